// The residual step around every sub-layer, the element-wise part of it: the operation
// entry point.
//   sum = dropout(update) + w * x          (w: Admin's learned vector, DeepNorm's alpha, or 1)
//   out = LayerNorm(sum), or sum itself    (as the scheme says; model/residual_scheme.h)
// CPU float and double take kernels/cpu/residual_kernel.h (one forward/backward pair),
// anything else the plain LibTorch reference (kernels/reference/residual_reference.h).
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
// layer_norm in fp32); anything else, and dropout >= 1, the reference
// (kernels/reference/residual_reference.h).
torch::Tensor residual_step(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& options);
// The same step's result as a stream (the branch a view of x where the kernel runs).
ResidualStream residual_step_stream(const torch::Tensor& x, const torch::Tensor& update,
                                    const ResidualStepOptions& options);

}  // namespace headcount
