#include "model/model_config.h"

#include <fmt/format.h>

#include <stdexcept>

#include "util/enum_names.h"

namespace headcount {

namespace {
constexpr NamedValue<Activation> kActivations[] = {{Activation::Relu, "relu"}, {Activation::Gelu, "gelu"}};
constexpr NamedValue<Architecture> kArchitectures[] = {
    {Architecture::EncoderDecoder, "encoder-decoder"}, {Architecture::Encoder, "encoder"}, {Architecture::Decoder, "decoder"}};
constexpr NamedValue<Head> kHeads[] = {{Head::None, "none"}, {Head::MaskedLm, "masked-lm"}, {Head::Classification, "classification"}};
}  // namespace

std::string to_string(Head head) { return name_of(kHeads, head); }
Head parse_head(const std::string& name) { return parse_named(kHeads, name, "head"); }

std::string to_string(Activation activation) { return name_of(kActivations, activation); }
Activation parse_activation(const std::string& name) { return parse_named(kActivations, name, "activation"); }
std::string to_string(Architecture architecture) { return name_of(kArchitectures, architecture); }
Architecture parse_architecture(const std::string& name) { return parse_named(kArchitectures, name, "architecture"); }

static void check_stack(const StackConfig& stack, int64_t d_model, const std::string& key,
                        std::vector<std::string>& out) {
  if (stack.layers < 1) out.push_back(fmt::format("{}.layers must be at least 1, got {}", key, stack.layers));
  if (stack.heads < 1) out.push_back(fmt::format("{}.heads must be at least 1, got {}", key, stack.heads));
  if (stack.ffn_dim < 1) out.push_back(fmt::format("{}.ffn_dim must be at least 1, got {}", key, stack.ffn_dim));
  if (stack.head_dim < 0) out.push_back(fmt::format("{}.head_dim must be 0 (auto) or positive, got {}", key, stack.head_dim));
  if (stack.head_dim == 0 && stack.heads >= 1 && d_model % stack.heads != 0)
    out.push_back(fmt::format("{}.heads = {} does not divide model.d_model = {}; set {}.head_dim explicitly",
                              key, stack.heads, d_model, key));
}

std::vector<std::string> ModelConfig::problems(bool check_vocabulary) const {
  std::vector<std::string> out;
  if (d_model < 1) out.push_back(fmt::format("model.d_model must be positive, got {}", d_model));
  if (has_encoder()) check_stack(encoder, d_model, "model.encoder", out);
  if (has_decoder()) check_stack(decoder, d_model, "model.decoder", out);
  for (auto [value, key] : {std::pair{dropout, "model.dropout"}, std::pair{attention_dropout, "model.attention_dropout"},
                            std::pair{activation_dropout, "model.activation_dropout"}})
    if (!(value >= 0.0 && value < 1.0)) out.push_back(fmt::format("{} must be in [0, 1), got {}", key, value));
  if (max_positions < 1) out.push_back(fmt::format("model.max_positions must be positive, got {}", max_positions));
  if (share_all_embeddings && architecture != Architecture::EncoderDecoder)
    out.push_back("model.share_all_embeddings needs architecture encoder-decoder");
  if (head != Head::None && architecture != Architecture::Encoder)
    out.push_back(fmt::format("model.head {} needs architecture encoder", to_string(head)));
  if (head == Head::Classification && classes < 1)
    out.push_back(fmt::format("model.classes must be at least 1 for a classification head, got {}", classes));
  if (check_vocabulary) {
    if (has_encoder() && source_vocab_size < 1) out.push_back("source vocabulary is empty");
    if (has_decoder() && target_vocab_size < 1) out.push_back("target vocabulary is empty");
    if (share_all_embeddings && source_vocab_size != target_vocab_size)
      out.push_back(fmt::format("model.share_all_embeddings needs one joint vocabulary, got sizes {} and {}",
                                source_vocab_size, target_vocab_size));
  }
  return out;
}

}  // namespace headcount
