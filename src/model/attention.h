// Scaled dot-product attention with `heads` heads of width `head_dim`.
// Self-attention projects query, key and value in one product; cross-attention
// projects the query from the decoder and key and value (one product) from the encoder.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "kernels/attention.h"
#include "model/linear.h"

namespace headcount {

// Collects the attention probabilities of the attentions it is attached to, in forward
// order, for `headcount analyze` (RQ1: how many positions a model attends). Nothing is
// recorded, and nothing costs, while no recorder is attached.
struct AttentionRecorder {
  struct Entry {
    std::string stack;  // "encoder" or "decoder"
    int64_t layer = 0;
    std::string kind;           // "self" or "cross"
    torch::Tensor probabilities;  // [batch, heads, T, S], detached
  };
  std::vector<Entry> entries;
};

class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadAttentionImpl(int64_t d_model, int64_t heads, int64_t head_dim, double attention_dropout,
                         bool self_attention);

  // query_input: [batch, T, d]; key_value_input: [batch, S, d] (ignored for self-attention).
  // attention_bias: additive, broadcastable to [batch, heads, T, S], 0 where a query may
  // look and -inf where it may not (padding, later positions); undefined for none.
  torch::Tensor forward(const torch::Tensor& query_input, const torch::Tensor& key_value_input,
                        const torch::Tensor& attention_bias);

  // Incremental self-attention for decoding: query_input [batch, n, d] are the newest
  // positions; their keys and values are appended to cache, and they attend to every
  // cached position (all earlier, so no causal mask is needed for n = 1).
  torch::Tensor forward_incremental(const torch::Tensor& query_input, AttentionCache& cache);
  // Cross-attention for decoding: keys and values of the encoder output, projected once.
  AttentionCache project_memory(const torch::Tensor& memory);
  torch::Tensor attend_memory(const torch::Tensor& query_input, const AttentionCache& memory,
                              const torch::Tensor& memory_bias);

  // Xavier initialisation; value_output_gain scales the value and output projections
  // (DeepNet's beta), query and key keep gain 1. normal selects Xavier-normal.
  void initialize(double value_output_gain, bool normal);

  // Every forward records its probabilities into recorder (nullptr: stop), tagged so.
  void attach_recorder(AttentionRecorder* recorder, const std::string& stack, int64_t layer);

  // Whether a recorder is attached (paths that bypass forward must then not be taken).
  bool recording() const { return recorder_ != nullptr; }
  int64_t heads() const { return heads_; }
  int64_t head_dim() const { return head_dim_; }

  Linear query_key_value{nullptr};  // self-attention: [3*heads*head_dim, d]
  Linear query{nullptr};            // cross-attention: [heads*head_dim, d]
  Linear key_value{nullptr};        // cross-attention: [2*heads*head_dim, d]
  Linear output{nullptr};           // [d, heads*head_dim]

 private:
  // Softmax attention (kernels/attention.h) plus the output projection; the queries
  // start at column 0 of query_rows, keys at key_offset and values at key_offset + heads*head_dim
  // of key_value_rows.
  torch::Tensor attend(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows, int64_t key_offset,
                       const torch::Tensor& bias);

  AttentionRecorder* recorder_ = nullptr;
  std::string recorded_stack_;
  int64_t recorded_layer_ = 0;
  int64_t heads_;
  int64_t head_dim_;
  double attention_dropout_;
  bool self_attention_;
};
TORCH_MODULE(MultiHeadAttention);

// [batch, S] bool (true = padding) -> [batch, 1, 1, S] additive bias.
torch::Tensor padding_bias(const torch::Tensor& padding, torch::ScalarType dtype);
// [1, 1, T, T] additive bias that hides later positions.
torch::Tensor causal_bias(int64_t length, torch::ScalarType dtype, torch::Device device);

}  // namespace headcount
