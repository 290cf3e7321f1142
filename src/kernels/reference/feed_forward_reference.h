// The feed-forward sub-layer with plain operators: kernels/linear_product.h's products,
// LibTorch's activations and hashed_dropout. The path for devices, precisions and shapes
// the kernel does not take, and the oracle it is tested against.
#pragma once

#include <torch/torch.h>

#include "kernels/feed_forward.h"

namespace headcount {

torch::Tensor feed_forward_reference(const torch::Tensor& x, const FeedForwardWeights& weights,
                                     const FeedForwardOptions& options);

}  // namespace headcount
