#include "model/stack.h"

#include "model/memory_projection.h"

#include <string>

namespace headcount {

TransformerStackImpl::TransformerStackImpl(const ModelConfig& config, const StackConfig& stack,
                                           bool cross_attention, const StackPlace& place)
    : activation_(config.activation) {
  const auto& traits = traits_of(config.residual);
  LayerOptions options;
  options.d_model = config.d_model;
  options.stack = stack;
  options.activation = config.activation;
  options.dropout = config.dropout;
  options.attention_dropout = config.attention_dropout;
  options.activation_dropout = config.activation_dropout;
  options.scheme = config.residual;
  options.cross_attention = cross_attention;
  options.residual_weight = traits.initial_weight(place);
  options.init_gain = traits.init_gain(place);
  layers.reserve(stack.layers);
  for (int64_t i = 0; i < stack.layers; ++i)
    layers.push_back(register_module("layer" + std::to_string(i), TransformerLayer(options)));
  if (traits.final_norm)
    final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.d_model})));
}

torch::Tensor TransformerStackImpl::forward(torch::Tensor x, const torch::Tensor& self_bias,
                                            const torch::Tensor& memory, const torch::Tensor& memory_bias) {
  std::vector<AttentionCache> projections;
  if (memory.defined() && !layers.empty() && layers.front()->cross_attention)
    projections = project_memory_for_layers(cross_attentions(), memory);
  ResidualStream stream(x);
  for (size_t i = 0; i < layers.size(); ++i)
    stream = layers[i]->forward(stream, self_bias, memory, memory_bias, projections.empty() ? nullptr : &projections[i]);
  return final_norm ? final_norm->forward(stream.x) : stream.x;
}

std::vector<MultiHeadAttention> TransformerStackImpl::cross_attentions() const {
  std::vector<MultiHeadAttention> out;
  for (const auto& layer : layers) out.push_back(layer->cross_attention);
  return out;
}

std::vector<Residual> TransformerStackImpl::residuals() const {
  std::vector<Residual> out;
  for (const auto& layer : layers)
    for (auto& r : layer->residuals()) out.push_back(r);
  return out;
}

void TransformerStackImpl::attach_recorder(AttentionRecorder* recorder, const std::string& stack_name) {
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i]->self_attention->attach_recorder(recorder, stack_name, static_cast<int64_t>(i));
    if (layers[i]->cross_attention) layers[i]->cross_attention->attach_recorder(recorder, stack_name, static_cast<int64_t>(i));
  }
}

std::optional<StackWeights> TransformerStackImpl::inference_weights() const {
  if (is_training() || probe_) return std::nullopt;
  StackWeights stack;
  stack.activation = activation_;
  for (const auto& layer : layers) {
    if (layer->self_attention->recording() || (layer->cross_attention && layer->cross_attention->recording()))
      return std::nullopt;
    stack.layers.push_back(layer->inference_weights());
  }
  if (final_norm) stack.final_norm = NormWeights{final_norm->weight, final_norm->bias, final_norm->options.eps()};
  return stack;
}

bool fused_encoder_applies(const TransformerStackImpl& encoder, const torch::Tensor& x, const torch::Tensor& bias) {
  const auto weights = encoder.inference_weights();
  return weights && encoder_inference_applies(*weights, x, bias);
}

void TransformerStackImpl::attach_probe(VarianceProbe* probe) {
  probe_ = probe;
  for (auto& r : residuals()) r->attach_probe(probe);
}

}  // namespace headcount
