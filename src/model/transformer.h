// The Transformer family: encoder-decoder (translation), encoder-only (BERT-style) and
// decoder-only (language model), built from one ModelConfig.
//
// Tokens are int64 [batch, T]; index 0 is padding everywhere (see data/vocabulary.h).
// The usual seq2seq step is:
//   auto memory = model->encode(source);
//   auto logits = model->logits(model->decode(target_input, memory, source));
#pragma once

#include <torch/torch.h>

#include <optional>

#include "model/heads.h"
#include "model/model_config.h"
#include "model/stack.h"

namespace headcount {

inline constexpr int64_t kPaddingIndex = 0;

// Everything the decoder keeps between steps of incremental decoding.
struct DecoderState {
  torch::Tensor memory_bias;  // encoder padding, [batch, 1, 1, S]
  std::vector<LayerCache> layers;
  // The decoder as the inference kernel reads it, taken as decoding starts (none while
  // training, profiling or recording attention).
  std::optional<StackWeights> weights;
  int64_t length = 0;  // positions decoded so far
  void reorder(const torch::Tensor& order);  // beam search: rows follow their hypotheses
};

class TransformerImpl : public torch::nn::Module {
 public:
  explicit TransformerImpl(ModelConfig config);

  // source: [batch, S] tokens -> [batch, S, d].
  torch::Tensor encode(const torch::Tensor& source);
  // encode in two steps, for the gradient of the output with respect to the input
  // embeddings: the embedded source [batch, S, d] (positions added, dropout applied), and
  // the encoder on it (source gives the padding mask).
  torch::Tensor embed_source(const torch::Tensor& source);
  torch::Tensor encode_embedded(const torch::Tensor& embedded, const torch::Tensor& source);
  // target_input: [batch, T] tokens (shifted right); memory/source: the encoder's output
  // and its tokens (for the padding mask); undefined for a decoder-only model.
  torch::Tensor decode(const torch::Tensor& target_input, const torch::Tensor& memory,
                       const torch::Tensor& source);
  // Incremental decoding (inference): start from the encoder output, then feed one
  // token per row per step; returns the scores of the next token, [batch, vocab].
  DecoderState start_decoding(const torch::Tensor& memory, const torch::Tensor& source);
  torch::Tensor decode_step(const torch::Tensor& tokens, DecoderState& state);

  // Hidden states [..., d] -> unnormalised scores over the output vocabulary.
  torch::Tensor logits(const torch::Tensor& hidden);
  // Encoder-only heads (ModelConfig::head, model/heads.h). hidden: [batch, T, d], the
  // encoder's output. positions: flat indices into batch x T of the predicted tokens ->
  // [N, vocab]; classify: [batch, classes] from the first token.
  torch::Tensor masked_lm_logits(const torch::Tensor& hidden, const torch::Tensor& positions);
  torch::Tensor classify(const torch::Tensor& hidden);

  const ModelConfig& config() const { return config_; }
  // Residual steps of each stack in forward order (empty when the stack is absent).
  std::vector<Residual> encoder_residuals() const;
  std::vector<Residual> decoder_residuals() const;

  torch::nn::Embedding source_embedding{nullptr};
  torch::nn::Embedding target_embedding{nullptr};  // may share the source's weight
  torch::nn::Embedding learned_positions{nullptr};
  torch::nn::LayerNorm source_embedding_norm{nullptr};  // ModelConfig::embedding_norm only
  torch::nn::LayerNorm target_embedding_norm{nullptr};
  TransformerStack encoder{nullptr};
  TransformerStack decoder{nullptr};
  torch::Tensor output_weight;  // [vocab, d]; tied to an embedding when configured
  MaskedLmHead masked_lm_head{nullptr};
  ClassificationHead classification_head{nullptr};

 private:
  torch::Tensor embed(torch::nn::Embedding table, torch::nn::LayerNorm norm, const torch::Tensor& tokens, int64_t offset);

  ModelConfig config_;
  torch::Tensor sinusoidal_;  // [max_positions, d] buffer
  double embedding_scale_;
};
TORCH_MODULE(Transformer);

// Number of trainable parameters (each shared tensor counted once).
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace headcount
