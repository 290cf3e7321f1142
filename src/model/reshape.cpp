#include "model/reshape.h"

#include <fmt/format.h>

#include <stdexcept>

namespace headcount {

StackConfig reshape_stack(const StackConfig& stack, int64_t d_model, int64_t to_heads) {
  if (to_heads < 1) throw std::invalid_argument(fmt::format("--to-heads must be at least 1, got {}", to_heads));
  if (stack.heads % to_heads != 0)
    throw std::invalid_argument(
        fmt::format("cannot reshape {} heads into {} heads per layer: {} does not divide {}", stack.heads, to_heads,
                    to_heads, stack.heads));
  if (stack.head_dim == 0 && d_model % stack.heads != 0)
    throw std::invalid_argument(
        fmt::format("d_model {} is not divisible by {} heads, so the head width is not whole", d_model, stack.heads));
  if ((stack.ffn_dim * to_heads) % stack.heads != 0)
    throw std::invalid_argument(fmt::format("FFN width {} x {} is not divisible by {} heads, so the FFN cannot be split",
                                            stack.ffn_dim, to_heads, stack.heads));
  StackConfig deep;
  deep.layers = stack.layers * stack.heads / to_heads;
  deep.heads = to_heads;
  deep.head_dim = stack.resolved_head_dim(d_model);
  deep.ffn_dim = stack.ffn_dim * to_heads / stack.heads;
  return deep;
}

ModelConfig reshape_model(const ModelConfig& config, int64_t to_heads) {
  ModelConfig deep = config;
  if (config.has_encoder()) deep.encoder = reshape_stack(config.encoder, config.d_model, to_heads);
  if (config.has_decoder()) deep.decoder = reshape_stack(config.decoder, config.d_model, to_heads);
  return deep;
}

StackParameterCount count_stack_parameters(const StackConfig& stack, int64_t d, bool cross_attention,
                                           ResidualScheme scheme) {
  const int64_t inner = stack.heads * stack.resolved_head_dim(d);
  const int64_t f = stack.ffn_dim;
  const int64_t attention_weights = 4 * d * inner;
  const int64_t attention_biases = 3 * inner + d;
  const int64_t ffn_weights = 2 * d * f;
  const int64_t ffn_biases = f + d;
  const int64_t sublayers = StackConfig::sublayers_per_layer(cross_attention);
  const auto& traits = traits_of(scheme);
  const bool learned_weight = traits.weight == ResidualWeight::Learned;
  const int64_t per_residual = 2 * d + (learned_weight ? d : 0);  // LayerNorm gain and bias, w

  const int64_t attention_blocks = sublayers - 1;
  StackParameterCount count;
  count.attention_ffn_weights = stack.layers * (attention_blocks * attention_weights + ffn_weights);
  count.total = count.attention_ffn_weights +
                stack.layers * (attention_blocks * attention_biases + ffn_biases + sublayers * per_residual);
  if (traits.final_norm) count.total += 2 * d;
  return count;
}

}  // namespace headcount
