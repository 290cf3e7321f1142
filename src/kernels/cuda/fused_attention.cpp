#include "kernels/cuda/fused_attention.h"

#include "kernels/reference/attention_reference.h"

namespace headcount {

#if TORCH_VERSION_MAJOR >= 2
torch::Tensor cuda_fused_attention(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                   const torch::Tensor& bias, const AttentionShape& shape, double dropout_probability) {
  const auto query = split_heads(query_rows, shape.query_offset, shape);
  c10::optional<at::Tensor> mask;
  if (bias.defined()) mask = bias.to(query.scalar_type());
  const auto context = at::scaled_dot_product_attention(query, split_heads(key_value_rows, shape.key_offset, shape),
                                                        split_heads(key_value_rows, shape.value_offset, shape), mask,
                                                        dropout_probability, /*is_causal=*/false);
  return context.transpose(1, 2).reshape({query_rows.size(0), query_rows.size(1), shape.heads * shape.head_dim});
}
#endif

}  // namespace headcount
