#include "kernels/reference/attention_reference.h"

#include <cmath>

namespace headcount {

torch::Tensor split_heads(const torch::Tensor& rows, int64_t offset, const AttentionShape& shape) {
  const int64_t inner = shape.heads * shape.head_dim;
  return rows.narrow(2, offset, inner).view({rows.size(0), rows.size(1), shape.heads, shape.head_dim}).transpose(1, 2);
}

torch::Tensor attention_probabilities_reference(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                                const torch::Tensor& bias, const AttentionShape& shape) {
  auto query = split_heads(query_rows, shape.query_offset, shape) * (1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  auto scores = torch::matmul(query, split_heads(key_value_rows, shape.key_offset, shape).transpose(-2, -1));
  if (bias.defined()) scores = scores + bias;
  auto probabilities = torch::softmax(scores, -1);
  // A query that may look nowhere: zeros, as in the kernel, not NaN.
  return probabilities.masked_fill(probabilities.isnan(), 0.0);
}

torch::Tensor scaled_dot_product_attention_reference(const torch::Tensor& query_rows,
                                                     const torch::Tensor& key_value_rows, const torch::Tensor& bias,
                                                     const AttentionShape& shape, double dropout_probability) {
  const int64_t inner = shape.heads * shape.head_dim;
  auto split = [&](const torch::Tensor& rows, int64_t offset) { return split_heads(rows, offset, shape); };
  auto probabilities = attention_probabilities_reference(query_rows, key_value_rows, bias, shape);
  if (dropout_probability > 0) probabilities = torch::dropout(probabilities, dropout_probability, true);
  return torch::matmul(probabilities, split(key_value_rows, shape.value_offset))
      .transpose(1, 2)
      .reshape({query_rows.size(0), query_rows.size(1), inner});
}

}  // namespace headcount
