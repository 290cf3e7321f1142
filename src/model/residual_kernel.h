// The element-wise part of the residual step as one forward/backward pair:
//   sum = dropout(update) + w * x          (w: Admin's learned vector, DeepNorm's alpha, or 1)
//   out = LayerNorm(sum), or sum itself    (as the scheme says; model/residual_scheme.h)
//
// Why a kernel of its own: unfused this is a dropout, an addcmul and a layer_norm, each a
// pass over the activations, an output allocation and an autograd node, and backward adds
// a multiply and a reduction for w. A deep single-head model has H times the residual
// steps of its shallow twin at equal FLOPs, so per-step costs are what makes it slower per
// FLOP (docs/benchmarks.md). Here the forward reads each row once and the backward once,
// with the dropout mask recomputed from its seed (model/dropout_mask.h), as hashed_dropout
// draws it: same seed, same mask. With a LayerNorm the step keeps only each row's 1/std:
// backward recovers the normalized rows from the output, (out - beta) / gamma, which the
// next layer keeps anyway (unless gamma is too small beside beta for that to be exact;
// then they are kept). A 48L-1H d 512 model's training peak fell by a quarter with it
// (docs/benchmarks.md, "The residual stream, LayerNorm from its output, one memory projection").
//
// Gradients of w, gamma and beta are summed over fixed blocks of rows and then over the
// blocks in order, so the result never depends on the thread count.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace headcount {

struct ResidualStepOptions {
  torch::Tensor weight;         // [d] learned w; undefined: the constant alpha
  double alpha = 1.0;           // used when weight is undefined (1 for post-ln and pre-ln)
  double dropout = 0;           // on update; pass 0 when not training
  std::optional<uint64_t> seed;  // dropout's seed; unset: drawn by draw_dropout_seed
  torch::Tensor gamma, beta;    // LayerNorm's [d] parameters; undefined: no LayerNorm on the sum
  double eps = 1e-5;
};

// A residual stream between sub-layers: the same values twice, `x` for the next residual
// step to add to and `branch` for the next sub-layer (or its LayerNorm) to read. Why: a
// tensor read by two operators has its two gradients added by autograd, a pass over the
// activations of its own, once per sub-layer; the kernel's step returns its result as
// both, a view for the branch, and its backward adds the two gradients row by row as it
// reads them. Elsewhere both are the same tensor.
struct ResidualStream {
  ResidualStream() = default;
  explicit ResidualStream(const torch::Tensor& t) : x(t), branch(t) {}
  ResidualStream(torch::Tensor x_in, torch::Tensor branch_in) : x(std::move(x_in)), branch(std::move(branch_in)) {}
  torch::Tensor x, branch;
};

// x and update [..., d], the same shape. CPU float and double use the kernel (a bf16
// update from a mixed-precision product is cast to x's type first, as autocast runs
// layer_norm in fp32); anything else, and dropout >= 1, the reference below.
torch::Tensor residual_step(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& options);
// The same step's result as a stream (the branch a view of x where the kernel runs).
ResidualStream residual_step_stream(const torch::Tensor& x, const torch::Tensor& update,
                                    const ResidualStepOptions& options);

// The same step with plain LibTorch operators (hashed_dropout, addcmul, layer_norm): the
// reference the kernel is tested against, and the path for other devices.
torch::Tensor residual_step_reference(const torch::Tensor& x, const torch::Tensor& update,
                                      const ResidualStepOptions& options);

}  // namespace headcount
