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

torch::Tensor MultiHeadAttentionImpl::split_heads(const torch::Tensor& x) const {
  return x.view({x.size(0), x.size(1), heads_, head_dim_}).transpose(1, 2);
}

torch::Tensor MultiHeadAttentionImpl::attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                             const torch::Tensor& bias) {
  const int64_t batch = q.size(0), target_length = q.size(2);
  // Scaling q (T x head_dim) is cheaper than scaling the scores (T x S).
  auto scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim_))), k.transpose(-2, -1));
  if (bias.defined()) scores = scores + bias;
  auto probabilities = torch::softmax(scores, -1);
  if (attention_dropout_ > 0) probabilities = torch::dropout(probabilities, attention_dropout_, is_training());
  auto context = torch::matmul(probabilities, v).transpose(1, 2).reshape({batch, target_length, heads_ * head_dim_});
  return output->forward(context);
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& query_input, const torch::Tensor& key_value_input,
                                              const torch::Tensor& attention_bias) {
  const int64_t batch = query_input.size(0), target_length = query_input.size(1);
  if (self_attention_) {
    // One product for q, k and v: [3, batch, heads, T, head_dim]
    auto qkv = query_key_value->forward(query_input)
                   .view({batch, target_length, 3, heads_, head_dim_})
                   .permute({2, 0, 3, 1, 4});
    return attend(qkv[0], qkv[1], qkv[2], attention_bias);
  }
  auto memory = project_memory(key_value_input);
  return attend(split_heads(query->forward(query_input)), memory.keys, memory.values, attention_bias);
}

torch::Tensor MultiHeadAttentionImpl::forward_incremental(const torch::Tensor& query_input, AttentionCache& cache) {
  TORCH_CHECK(self_attention_, "forward_incremental is for self-attention");
  const int64_t batch = query_input.size(0), length = query_input.size(1);
  auto qkv = query_key_value->forward(query_input).view({batch, length, 3, heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  cache.keys = cache.keys.defined() ? torch::cat({cache.keys, qkv[1]}, 2) : qkv[1];
  cache.values = cache.values.defined() ? torch::cat({cache.values, qkv[2]}, 2) : qkv[2];
  torch::Tensor bias;
  if (length > 1) {
    // Several new positions at once: each may see the cache and the new ones up to itself.
    const int64_t total = cache.keys.size(2);
    bias = causal_bias(total, query_input.scalar_type(), query_input.device()).narrow(2, total - length, length);
  }
  return attend(qkv[0], cache.keys, cache.values, bias);
}

AttentionCache MultiHeadAttentionImpl::project_memory(const torch::Tensor& memory) {
  TORCH_CHECK(!self_attention_, "project_memory is for cross-attention");
  const int64_t batch = memory.size(0), source_length = memory.size(1);
  auto kv = key_value->forward(memory).view({batch, source_length, 2, heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  return {kv[0], kv[1]};
}

torch::Tensor MultiHeadAttentionImpl::attend_memory(const torch::Tensor& query_input, const AttentionCache& memory,
                                                    const torch::Tensor& memory_bias) {
  return attend(split_heads(query->forward(query_input)), memory.keys, memory.values, memory_bias);
}

void AttentionCache::reorder(const torch::Tensor& order) {
  if (keys.defined()) keys = keys.index_select(0, order);
  if (values.defined()) values = values.index_select(0, order);
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
