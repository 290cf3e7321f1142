// The element-wise part of the residual step (kernels/residual_step.h) on the CPU, as one
// forward/backward pair:
//   sum = dropout(update) + w * x          (w: Admin's learned vector, DeepNorm's alpha, or 1)
//   out = LayerNorm(sum), or sum itself    (as the scheme says; model/residual_scheme.h)
//
// Why a kernel of its own: unfused this is a dropout, an addcmul and a layer_norm, each a
// pass over the activations, an output allocation and an autograd node, and backward adds
// a multiply and a reduction for w. A deep single-head model has H times the residual
// steps of its shallow twin at equal FLOPs, so per-step costs are what makes it slower per
// FLOP (docs/benchmarks.md). Here the forward reads each row once and the backward once,
// with the dropout mask recomputed from its seed (kernels/cpu/dropout_mask.h), as hashed_dropout
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

#include "kernels/residual_step.h"

namespace headcount {

// CPU float or double x and update of one shape, the parameters of x's type, dropout below 1.
bool residual_kernel_applies(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& options);

// The step as a stream (the branch a view of x when autograd records it), its dropout mask
// drawn from seed when options.dropout > 0.
ResidualStream residual_kernel(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& options,
                               uint64_t seed);

}  // namespace headcount
