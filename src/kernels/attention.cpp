#include "kernels/attention.h"

#include <torch/version.h>

#include "kernels/cpu/attention_kernel.h"
#include "kernels/cuda/fused_attention.h"
#include "kernels/dropout.h"
#include "kernels/reference/attention_reference.h"

namespace headcount {

namespace {

bool is_reduced(torch::ScalarType type) { return type == torch::kBFloat16 || type == torch::kHalf; }

void check_shape(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows, const AttentionShape& shape) {
  TORCH_CHECK(query_rows.dim() == 3 && key_value_rows.dim() == 3, "attention rows must be [batch, length, width]");
  TORCH_CHECK(query_rows.size(0) == key_value_rows.size(0), "query and key/value batch sizes differ");
  const int64_t inner = shape.heads * shape.head_dim;
  TORCH_CHECK(shape.query_offset + inner <= query_rows.size(2), "query columns out of range");
  TORCH_CHECK(shape.key_offset + inner <= key_value_rows.size(2) && shape.value_offset + inner <= key_value_rows.size(2),
              "key/value columns out of range");
}

}  // namespace

torch::Tensor scaled_dot_product_attention(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                           const torch::Tensor& bias, const AttentionShape& shape,
                                           const AttentionDropout& dropout) {
  check_shape(query_rows, key_value_rows, shape);
  if (query_rows.device().is_cpu() && is_reduced(query_rows.scalar_type())) {
    // Mixed precision on the CPU: the projections ran in bf16, the attention itself runs
    // in fp32 in the kernel (its cost is memory, not products), as autocast keeps softmax.
    const auto query = query_rows.to(torch::kFloat);
    const auto key_value = key_value_rows.is_same(query_rows) ? query : key_value_rows.to(torch::kFloat);
    return scaled_dot_product_attention(query, key_value, bias.defined() ? bias.to(torch::kFloat) : bias, shape, dropout);
  }
#if TORCH_VERSION_MAJOR >= 2
  if (query_rows.is_cuda()) return cuda_fused_attention(query_rows, key_value_rows, bias, shape, dropout.probability);
#endif
  if (!attention_kernel_applies(query_rows, key_value_rows, bias))
    return scaled_dot_product_attention_reference(query_rows, key_value_rows, bias, shape, dropout.probability);
  uint64_t seed = 0;
  if (dropout.probability > 0) seed = dropout.seed ? *dropout.seed : draw_dropout_seed();
  return attention_kernel(query_rows, key_value_rows, bias, shape, dropout.probability, seed);
}

torch::Tensor attention_probabilities(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                      const torch::Tensor& bias, const AttentionShape& shape) {
  check_shape(query_rows, key_value_rows, shape);
  return attention_probabilities_reference(query_rows, key_value_rows, bias, shape);
}

void AttentionCache::reorder(const torch::Tensor& order) {
  if (key_value.defined()) key_value = key_value.index_select(0, order);
}

}  // namespace headcount
