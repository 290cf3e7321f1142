// The feed-forward sub-layer, Linear(d, f) -> activation -> dropout -> Linear(f, d): the
// operation entry point. float32 CPU tensors of training and batched evaluation take
// kernels/cpu/feed_forward_kernel.h (one forward/backward pair on oneDNN's products);
// everything else the reference (kernels/reference/feed_forward_reference.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>

#include "kernels/activation.h"

namespace headcount {

struct FeedForwardWeights {
  torch::Tensor expand_weight, expand_bias;      // [f, d], [f]
  torch::Tensor contract_weight, contract_bias;  // [d, f], [d]
};

struct FeedForwardOptions {
  Activation activation = Activation::Relu;
  double dropout = 0;            // after the activation; pass 0 when not training
  std::optional<uint64_t> seed;  // dropout's seed; unset: drawn by draw_dropout_seed
};

// x [..., d] -> [..., d], with gradients for x and the four weights where autograd wants
// them. Same seed, same dropout mask on either path.
torch::Tensor feed_forward(const torch::Tensor& x, const FeedForwardWeights& weights, const FeedForwardOptions& options);

}  // namespace headcount
