// The feed-forward sub-layer, Linear(d, f) -> activation -> dropout -> Linear(f, d), as
// one forward/backward pair on oneDNN's products (kernels/cpu/onednn_product.h), for float32 on
// the CPU.
//
// Why: as separate operators the sub-layer is three autograd nodes (four with dropout),
// each with its own allocations and parallel regions, and ReLU's forward and backward are
// passes over the [rows, f] activations of their own. A deep single-head model has H
// times the sub-layers of its shallow twin at equal FLOPs, so such per-sub-layer costs are
// what make it slower per FLOP (docs/benchmarks.md, "The feed-forward sub-layer as one
// pair"). Here ReLU is the expand product's post-operation; backward reads its derivative
// (and dropout's mask) from the kept activations, nonzero exactly where both let the
// gradient through, and each thread applies it to its own share of rows as it sums both
// layers' weight gradients. GELU is LibTorch's, on the kept pre-activations.
#pragma once

#include <torch/torch.h>

#include "kernels/feed_forward.h"

namespace headcount {

// Whether the kernel takes this input: oneDNN products built, CPU float32 tensors with
// autocast off, both biases, matching widths, at least kOneDnnLinearMinRows rows (fewer
// go through kernels/linear_product.h's few-rows path), dropout below 1.
bool feed_forward_kernel_applies(const torch::Tensor& x, const FeedForwardWeights& weights,
                                 const FeedForwardOptions& options);

// x [..., d] -> [..., d], with gradients for x and the four weights where autograd wants
// them. Same seed, same dropout mask as the reference; sums run in oneDNN's order, so the
// results equal the reference's within float rounding.
torch::Tensor feed_forward_kernel(const torch::Tensor& x, const FeedForwardWeights& weights,
                                  const FeedForwardOptions& options);

}  // namespace headcount
