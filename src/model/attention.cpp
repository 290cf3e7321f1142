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

torch::Tensor MultiHeadAttentionImpl::attend(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                                             int64_t key_offset, const torch::Tensor& bias) {
  const int64_t inner = heads_ * head_dim_;
  const AttentionShape shape{heads_, head_dim_, 0, key_offset, key_offset + inner};
  const AttentionDropout dropout{is_training() ? attention_dropout_ : 0.0, std::nullopt};
  if (recorder_)
    recorder_->entries.push_back({recorded_stack_, recorded_layer_, self_attention_ ? "self" : "cross",
                                  attention_probabilities(query_rows, key_value_rows, bias, shape).detach()});
  // Qualified: ATen 2.x has an at::scaled_dot_product_attention that argument lookup also sees.
  return output->forward(headcount::scaled_dot_product_attention(query_rows, key_value_rows, bias, shape, dropout));
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& query_input, const torch::Tensor& key_value_input,
                                              const torch::Tensor& attention_bias) {
  if (self_attention_) {
    // One product for q, k and v: [batch, T, 3*heads*head_dim]
    auto packed = query_key_value->forward(query_input);
    return attend(packed, packed, heads_ * head_dim_, attention_bias);
  }
  return attend(query->forward(query_input), key_value->forward(key_value_input), 0, attention_bias);
}

torch::Tensor MultiHeadAttentionImpl::forward_incremental(const torch::Tensor& query_input, AttentionCache& cache) {
  TORCH_CHECK(self_attention_, "forward_incremental is for self-attention");
  const int64_t length = query_input.size(1), inner = heads_ * head_dim_;
  auto packed = query_key_value->forward(query_input);
  auto new_key_value = packed.narrow(2, inner, 2 * inner);
  cache.key_value = cache.key_value.defined() ? torch::cat({cache.key_value, new_key_value}, 1)
                                              : new_key_value.contiguous();
  torch::Tensor bias;
  if (length > 1) {
    // Several new positions at once: each may see the cache and the new ones up to itself.
    const int64_t total = cache.key_value.size(1);
    bias = causal_bias(total, query_input.scalar_type(), query_input.device()).narrow(2, total - length, length);
  }
  return attend(packed, cache.key_value, 0, bias);
}

AttentionCache MultiHeadAttentionImpl::project_memory(const torch::Tensor& memory) {
  TORCH_CHECK(!self_attention_, "project_memory is for cross-attention");
  return {key_value->forward(memory)};
}

torch::Tensor MultiHeadAttentionImpl::attend_memory(const torch::Tensor& query_input, const AttentionCache& memory,
                                                    const torch::Tensor& memory_bias) {
  return attend(query->forward(query_input), memory.key_value, 0, memory_bias);
}

void MultiHeadAttentionImpl::attach_recorder(AttentionRecorder* recorder, const std::string& stack, int64_t layer) {
  recorder_ = recorder;
  recorded_stack_ = stack;
  recorded_layer_ = layer;
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
