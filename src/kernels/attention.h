// Scaled dot-product attention, softmax(q k^T / sqrt(head_dim) + bias) v, for all heads at
// once: the operation entry point. CPU tensors take kernels/cpu/attention_kernel.h (one
// forward/backward pair), CUDA ones ATen's fused attention (kernels/cuda/fused_attention.h,
// LibTorch 2.x), anything else the plain LibTorch reference
// (kernels/reference/attention_reference.h).
//
// Layout: a side's vectors live in "rows" [batch, length, width] whose last dimension is
// contiguous; head h of a side that starts at column `offset` uses columns
// [offset + h*head_dim, offset + (h+1)*head_dim). A self-attention projection [B, T, 3*H*D]
// holds query (offset 0), key (H*D) and value (2*H*D) in one tensor.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace headcount {

struct AttentionShape {
  int64_t heads = 1;
  int64_t head_dim = 1;
  int64_t query_offset = 0;  // columns of query_rows
  int64_t key_offset = 0;    // columns of key_value_rows
  int64_t value_offset = 0;  // columns of key_value_rows
};

struct AttentionDropout {
  double probability = 0;  // on the attention probabilities; applied only when > 0
  // Same seed, same mask. Unset: drawn from LibTorch's default generator, so
  // torch::manual_seed and a resumed generator state make runs repeat.
  std::optional<uint64_t> seed;
};

// query_rows [B, T, *], key_value_rows [B, S, *] (may be the very same tensor as
// query_rows: self-attention), bias additive and broadcastable to [B, heads, T, S] (0 where
// a query may look, -inf where it may not; undefined for none; never differentiated).
// Returns the context [B, T, heads*head_dim], heads side by side, ready for the output
// projection. A query that may look nowhere gets a zero context.
// CPU float/double tensors use the kernel, CPU bf16/half ones too after a cast to float
// (mixed precision); CUDA tensors ATen's fused scaled_dot_product_attention (LibTorch 2.x;
// the reference with 1.13).
torch::Tensor scaled_dot_product_attention(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                           const torch::Tensor& bias, const AttentionShape& shape,
                                           const AttentionDropout& dropout = {});

// The attention probabilities alone, [B, heads, T, S] (no dropout; a query that may look
// nowhere gets zeros), with plain LibTorch operators: what `headcount analyze` inspects.
torch::Tensor attention_probabilities(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                      const torch::Tensor& bias, const AttentionShape& shape);

// Keys and values kept between decoding steps, as the projection lays them out:
// [batch, length, 2*heads*head_dim], the heads' keys first, then their values.
struct AttentionCache {
  torch::Tensor key_value;
  void reorder(const torch::Tensor& order);  // beam search: rows follow their hypotheses
};

}  // namespace headcount
