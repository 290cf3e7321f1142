#include "model/attention.h"

#include <cmath>
#include <limits>

namespace headcount {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t d_model, int64_t heads, int64_t head_dim,
                                               double attention_dropout, bool self_attention)
    : heads_(heads), head_dim_(head_dim), attention_dropout_(attention_dropout), self_attention_(self_attention) {
  const int64_t inner = heads * head_dim;
  if (self_attention) {
    query_key_value = register_module("query_key_value", Linear(d_model, 3 * inner));
  } else {
    query = register_module("query", Linear(d_model, inner));
    key_value = register_module("key_value", Linear(d_model, 2 * inner));
  }
  output = register_module("output", Linear(inner, d_model));
  initialize(1.0, false);
}

void MultiHeadAttentionImpl::initialize(double value_output_gain, bool normal) {
  const int64_t inner = heads_ * head_dim_;
  if (self_attention_) {
    query_key_value->xavier_rows(0, inner, 1.0, normal);
    query_key_value->xavier_rows(inner, 2 * inner, 1.0, normal);
    query_key_value->xavier_rows(2 * inner, 3 * inner, value_output_gain, normal);
  } else {
    query->xavier_rows(0, inner, 1.0, normal);
    key_value->xavier_rows(0, inner, 1.0, normal);
    key_value->xavier_rows(inner, 2 * inner, value_output_gain, normal);
  }
  output->xavier_rows(0, output->out_features(), value_output_gain, normal);
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& query_input, const torch::Tensor& key_value_input,
                                              const torch::Tensor& attention_bias) {
  const int64_t batch = query_input.size(0), target_length = query_input.size(1);
  const int64_t inner = heads_ * head_dim_;
  torch::Tensor q, k, v;
  if (self_attention_) {
    auto qkv = query_key_value->forward(query_input).view({batch, target_length, 3, heads_, head_dim_});
    // [3, batch, heads, T, head_dim]
    qkv = qkv.permute({2, 0, 3, 1, 4});
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    const int64_t source_length = key_value_input.size(1);
    q = query->forward(query_input).view({batch, target_length, heads_, head_dim_}).transpose(1, 2);
    auto kv = key_value->forward(key_value_input).view({batch, source_length, 2, heads_, head_dim_});
    kv = kv.permute({2, 0, 3, 1, 4});
    k = kv[0], v = kv[1];
  }
  // Scaling q (T x head_dim) is cheaper than scaling the scores (T x S).
  auto scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim_))), k.transpose(-2, -1));
  if (attention_bias.defined()) scores = scores + attention_bias;
  auto probabilities = torch::softmax(scores, -1);
  if (attention_dropout_ > 0) probabilities = torch::dropout(probabilities, attention_dropout_, is_training());
  auto context = torch::matmul(probabilities, v).transpose(1, 2).reshape({batch, target_length, inner});
  return output->forward(context);
}

torch::Tensor padding_bias(const torch::Tensor& padding, torch::ScalarType dtype) {
  auto bias = torch::zeros(padding.sizes(), torch::TensorOptions().dtype(dtype).device(padding.device()));
  bias.masked_fill_(padding, -std::numeric_limits<double>::infinity());
  return bias.unsqueeze(1).unsqueeze(1);
}

torch::Tensor causal_bias(int64_t length, torch::ScalarType dtype, torch::Device device) {
  auto bias = torch::full({length, length}, -std::numeric_limits<double>::infinity(),
                          torch::TensorOptions().dtype(dtype).device(device));
  return bias.triu(1).unsqueeze(0).unsqueeze(0);
}

}  // namespace headcount
