#include "model/transformer.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <stdexcept>

#include "kernels/dropout.h"
#include "kernels/inference_step.h"
#include "model/linear.h"

namespace headcount {

static torch::nn::Embedding make_embedding(int64_t vocab, int64_t d_model) {
  auto table = torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab, d_model).padding_idx(kPaddingIndex));
  torch::NoGradGuard no_grad;
  table->weight.normal_(0.0, std::pow(static_cast<double>(d_model), -0.5));
  table->weight[kPaddingIndex].zero_();
  return table;
}

static torch::Tensor sinusoidal_table(int64_t positions, int64_t d_model) {
  // fairseq/tensor2tensor layout: sines in the first half, cosines in the second.
  const int64_t half = d_model / 2;
  auto position = torch::arange(positions, torch::kDouble).unsqueeze(1);
  auto frequency = torch::exp(torch::arange(half, torch::kDouble) * -(std::log(10000.0) / std::max<int64_t>(half - 1, 1)));
  auto angles = position * frequency.unsqueeze(0);
  auto table = torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
  if (d_model % 2) table = torch::cat({table, torch::zeros({positions, 1}, torch::kDouble)}, 1);
  return table.to(torch::kFloat);
}

TransformerImpl::TransformerImpl(ModelConfig config) : config_(std::move(config)) {
  const auto problems = config_.problems(/*check_vocabulary=*/true);
  if (!problems.empty()) throw std::invalid_argument("invalid model config: " + problems.front());
  const auto& c = config_;
  embedding_scale_ = c.embedding_norm ? 1.0 : std::sqrt(static_cast<double>(c.d_model));
  auto embedding_norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})); };
  const int64_t encoder_layers = c.has_encoder() ? c.encoder.layers : 0;
  const int64_t decoder_layers = c.has_decoder() ? c.decoder.layers : 0;
  const bool cross = c.architecture == Architecture::EncoderDecoder;

  // Where each stack sits: its scheme's initial residual weight and gain depend on it.
  auto place = [&](bool is_encoder) {
    const auto& stack = is_encoder ? c.encoder : c.decoder;
    const int64_t sublayers = stack.layers * StackConfig::sublayers_per_layer(!is_encoder && cross);
    return StackPlace{encoder_layers, decoder_layers, is_encoder, sublayers};
  };

  if (c.has_encoder()) {
    source_embedding = register_module("source_embedding", make_embedding(c.source_vocab_size, c.d_model));
    if (c.embedding_norm) source_embedding_norm = register_module("source_embedding_norm", embedding_norm());
    encoder = register_module("encoder", TransformerStack(c, c.encoder, false, place(true)));
  }
  if (c.has_decoder()) {
    if (c.share_all_embeddings) {
      target_embedding = source_embedding;
    } else {
      target_embedding = register_module("target_embedding", make_embedding(c.target_vocab_size, c.d_model));
    }
    if (c.embedding_norm) target_embedding_norm = register_module("target_embedding_norm", embedding_norm());
    decoder = register_module("decoder", TransformerStack(c, c.decoder, cross, place(false)));
  }
  const auto& output_table = c.has_decoder() ? target_embedding : source_embedding;
  if (c.share_decoder_input_output_embed || c.share_all_embeddings) {
    output_weight = output_table->weight;
  } else {
    output_weight = register_parameter("output_weight", torch::empty_like(output_table->weight));
    torch::NoGradGuard no_grad;
    output_weight.normal_(0.0, std::pow(static_cast<double>(c.d_model), -0.5));
  }
  if (c.head == Head::MaskedLm)
    masked_lm_head = register_module("masked_lm_head", MaskedLmHead(c.d_model, output_weight));
  if (c.head == Head::Classification)
    classification_head = register_module("classification_head", ClassificationHead(c.d_model, c.classes, c.dropout));
  if (c.learned_positions) {
    learned_positions = register_module("learned_positions", torch::nn::Embedding(c.max_positions, c.d_model));
    torch::NoGradGuard no_grad;
    learned_positions->weight.normal_(0.0, std::pow(static_cast<double>(c.d_model), -0.5));
  } else {
    sinusoidal_ = register_buffer("sinusoidal_positions", sinusoidal_table(c.max_positions, c.d_model));
  }
}

torch::Tensor TransformerImpl::embed(torch::nn::Embedding table, torch::nn::LayerNorm norm, const torch::Tensor& tokens,
                                     int64_t offset) {
  const int64_t length = tokens.size(1);
  if (offset + length > config_.max_positions)
    throw std::invalid_argument(fmt::format("sequence of {} tokens is longer than model.max_positions = {}",
                                            offset + length, config_.max_positions));
  auto x = table->forward(tokens) * embedding_scale_;
  x = x + (learned_positions ? learned_positions->weight.narrow(0, offset, length) : sinusoidal_.narrow(0, offset, length));
  if (norm) x = norm->forward(x);
  return hashed_dropout(x, config_.dropout, is_training());
}

torch::Tensor TransformerImpl::encode(const torch::Tensor& source) { return encode_embedded(embed_source(source), source); }

torch::Tensor TransformerImpl::embed_source(const torch::Tensor& source) {
  TORCH_CHECK(encoder, "this model has no encoder");
  return embed(source_embedding, source_embedding_norm, source, 0);
}

torch::Tensor TransformerImpl::encode_embedded(const torch::Tensor& embedded, const torch::Tensor& source) {
  TORCH_CHECK(encoder, "this model has no encoder");
  auto bias = padding_bias(source.eq(kPaddingIndex), source_embedding->weight.scalar_type());
  if (auto* probe = encoder->probe()) probe->real_positions = source.ne(kPaddingIndex);
  if (const auto weights = encoder->inference_weights())
    if (auto fused = encoder_inference(*weights, embedded, bias)) return *fused;
  return encoder->forward(embedded, bias, {}, {});
}

torch::Tensor TransformerImpl::decode(const torch::Tensor& target_input, const torch::Tensor& memory,
                                      const torch::Tensor& source) {
  TORCH_CHECK(decoder, "this model has no decoder");
  const auto dtype = target_embedding->weight.scalar_type();
  auto self_bias = padding_bias(target_input.eq(kPaddingIndex), dtype) +
                   causal_bias(target_input.size(1), dtype, target_input.device());
  torch::Tensor memory_bias;
  if (memory.defined()) memory_bias = padding_bias(source.eq(kPaddingIndex), dtype);
  if (auto* probe = decoder->probe()) probe->real_positions = target_input.ne(kPaddingIndex);
  return decoder->forward(embed(target_embedding, target_embedding_norm, target_input, 0), self_bias, memory, memory_bias);
}

DecoderState TransformerImpl::start_decoding(const torch::Tensor& memory, const torch::Tensor& source) {
  TORCH_CHECK(decoder, "this model has no decoder");
  DecoderState state;
  if (memory.defined()) state.memory_bias = padding_bias(source.eq(kPaddingIndex), memory.scalar_type());
  // Each layer projects memory on its own here: at decoding's few rows the joint product of
  // model/memory_projection.h, its concatenated weights and the copies of its columns
  // measured slower (batch 1: 0.91 against 0.86 ms a sentence for demo-deep).
  for (auto& layer : decoder->layers) state.layers.push_back(layer->start_cache(memory));
  state.weights = decoder->inference_weights();
  return state;
}

torch::Tensor TransformerImpl::decode_step(const torch::Tensor& tokens, DecoderState& state) {
  auto x = embed(target_embedding, target_embedding_norm, tokens.unsqueeze(1), state.length);
  std::optional<torch::Tensor> fused;
  if (state.weights) fused = decoder_inference_step(*state.weights, x, state.layers, state.memory_bias);
  if (fused) {
    x = *fused;
  } else {
    for (size_t i = 0; i < decoder->layers.size(); ++i)
      x = decoder->layers[i]->forward_incremental(x, state.layers[i], state.memory_bias);
    if (decoder->final_norm) x = decoder->final_norm->forward(x);
  }
  ++state.length;
  return logits(x.squeeze(1));
}

void DecoderState::reorder(const torch::Tensor& order) {
  if (memory_bias.defined()) memory_bias = memory_bias.index_select(0, order);
  for (auto& layer : layers) layer.reorder(order);
}

torch::Tensor TransformerImpl::logits(const torch::Tensor& hidden) {
  return linear_product(hidden, output_weight, {});
}

torch::Tensor TransformerImpl::masked_lm_logits(const torch::Tensor& hidden, const torch::Tensor& positions) {
  TORCH_CHECK(masked_lm_head, "this model has no masked-LM head");
  return masked_lm_head->forward(hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions));
}

torch::Tensor TransformerImpl::classify(const torch::Tensor& hidden) {
  TORCH_CHECK(classification_head, "this model has no classification head");
  return classification_head->forward(hidden);
}

std::vector<Residual> TransformerImpl::encoder_residuals() const {
  return encoder ? encoder->residuals() : std::vector<Residual>{};
}

std::vector<Residual> TransformerImpl::decoder_residuals() const {
  return decoder ? decoder->residuals() : std::vector<Residual>{};
}

int64_t parameter_count(const torch::nn::Module& module) {
  std::set<const void*> seen;
  int64_t total = 0;
  for (const auto& p : module.parameters())
    if (seen.insert(p.unsafeGetTensorImpl()).second) total += p.numel();
  return total;
}

}  // namespace headcount
