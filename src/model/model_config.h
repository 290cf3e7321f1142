// The shape of a Transformer: one struct per stack plus what the stacks share.
// Pure data with validation; building modules from it happens in transformer.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "model/residual_scheme.h"

namespace headcount {

std::string to_string(Activation activation);
Activation parse_activation(const std::string& name);

// Which stacks exist: encoder-decoder (translation), encoder (BERT-style),
// decoder (language model, no cross-attention).
enum class Architecture { EncoderDecoder, Encoder, Decoder };
std::string to_string(Architecture architecture);
Architecture parse_architecture(const std::string& name);

// What an encoder-only model puts on top of its encoder (model/heads.h); the task sets it.
enum class Head {
  None,
  MaskedLm,        // RoBERTa's LM head: dense, GELU, LayerNorm, the tied output projection
  Classification,  // on the first token: dropout, dense, tanh, dropout, linear to `classes`
};
std::string to_string(Head head);
Head parse_head(const std::string& name);

struct StackConfig {
  int64_t layers = 6;
  int64_t heads = 8;
  // Width of one head; 0 means d_model / heads.
  int64_t head_dim = 0;
  int64_t ffn_dim = 2048;

  int64_t resolved_head_dim(int64_t d_model) const { return head_dim > 0 ? head_dim : d_model / heads; }
  // Residual sub-layers per layer: self-attention and FFN, plus cross-attention in a
  // decoder that attends to an encoder.
  static int64_t sublayers_per_layer(bool cross_attention) { return cross_attention ? 3 : 2; }
};

struct ModelConfig {
  Architecture architecture = Architecture::EncoderDecoder;
  int64_t d_model = 512;
  StackConfig encoder;
  StackConfig decoder;
  Activation activation = Activation::Relu;
  double dropout = 0.1;             // on each sub-layer's output before the residual sum
  double attention_dropout = 0.0;   // on attention probabilities
  double activation_dropout = 0.0;  // inside the FFN, after the activation
  bool learned_positions = false;   // false: sinusoidal
  // LayerNorm(word + position) before the first layer, the words unscaled, as BERT and
  // RoBERTa embed; off: sqrt(d_model) * word + position (Vaswani et al., fairseq's
  // translation models). One LayerNorm per embedded stack.
  bool embedding_norm = false;
  int64_t max_positions = 1024;
  bool share_all_embeddings = false;            // source, target and output (needs one vocabulary)
  bool share_decoder_input_output_embed = true;  // target input and output projection
  ResidualScheme residual = ResidualScheme::PostLn;
  int64_t source_vocab_size = 0;  // set from the data
  int64_t target_vocab_size = 0;
  Head head = Head::None;  // set by the task
  int64_t classes = 0;     // classification head outputs (1: a regression score); set by the task

  bool has_encoder() const { return architecture != Architecture::Decoder; }
  bool has_decoder() const { return architecture != Architecture::Encoder; }

  // Returns one message per problem, each naming the key ("model.encoder.heads ...").
  // Vocabulary sizes are checked only when check_vocabulary is set, since they come
  // from the data after the config is read.
  std::vector<std::string> problems(bool check_vocabulary) const;
};

}  // namespace headcount
