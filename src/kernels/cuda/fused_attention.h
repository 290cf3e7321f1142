// Attention on GPUs: ATen's fused scaled_dot_product_attention (flash or memory-efficient
// kernels, chosen by ATen), with the padding bias as its additive mask. LibTorch 2.x only;
// with 1.13 CUDA tensors take the reference (kernels/reference/attention_reference.h).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include "kernels/attention.h"

namespace headcount {

#if TORCH_VERSION_MAJOR >= 2
// As scaled_dot_product_attention, for CUDA tensors (ATen's dropout on the probabilities).
torch::Tensor cuda_fused_attention(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                   const torch::Tensor& bias, const AttentionShape& shape, double dropout_probability);
#endif

}  // namespace headcount
