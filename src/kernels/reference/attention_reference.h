// Attention written with plain LibTorch operators: the path for devices and types without a
// kernel of their own, and the oracle the kernels are tested against.
#pragma once

#include <torch/torch.h>

#include "kernels/attention.h"

namespace headcount {

// [B, L, width] -> [B, heads, L, head_dim] of the side that starts at column offset (a view).
torch::Tensor split_heads(const torch::Tensor& rows, int64_t offset, const AttentionShape& shape);

// kernels/attention.h's attention_probabilities, unchecked.
torch::Tensor attention_probabilities_reference(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                                const torch::Tensor& bias, const AttentionShape& shape);

// kernels/attention.h's scaled_dot_product_attention (dropout masks differ).
torch::Tensor scaled_dot_product_attention_reference(const torch::Tensor& query_rows,
                                                     const torch::Tensor& key_value_rows, const torch::Tensor& bias,
                                                     const AttentionShape& shape, double dropout_probability);

}  // namespace headcount
