#include "model/layer.h"

namespace headcount {

TransformerLayerImpl::TransformerLayerImpl(const LayerOptions& o) {
  const int64_t head_dim = o.stack.resolved_head_dim(o.d_model);
  auto residual = [&] { return Residual(o.scheme, o.d_model, o.dropout, o.residual_weight); };
  self_attention = register_module(
      "self_attention", MultiHeadAttention(o.d_model, o.stack.heads, head_dim, o.attention_dropout, true));
  self_attention_residual = register_module("self_attention_residual", residual());
  if (o.cross_attention) {
    cross_attention = register_module(
        "cross_attention", MultiHeadAttention(o.d_model, o.stack.heads, head_dim, o.attention_dropout, false));
    cross_attention_residual = register_module("cross_attention_residual", residual());
  }
  feed_forward = register_module("feed_forward",
                                 FeedForward(o.d_model, o.stack.ffn_dim, o.activation, o.activation_dropout));
  feed_forward_residual = register_module("feed_forward_residual", residual());

  if (traits_of(o.scheme).scaled_init) {
    self_attention->initialize(o.init_gain, true);
    if (cross_attention) cross_attention->initialize(o.init_gain, true);
    feed_forward->initialize(o.init_gain, true);
  }
}

ResidualStream TransformerLayerImpl::forward(const ResidualStream& x_in, const torch::Tensor& self_bias,
                                             const torch::Tensor& memory, const torch::Tensor& memory_bias,
                                             const AttentionCache* memory_projection) {
  using torch::Tensor;
  auto x = self_attention_residual->forward(x_in, [&](const Tensor& h) { return self_attention->forward(h, h, self_bias); });
  if (cross_attention)
    x = cross_attention_residual->forward(x, [&](const Tensor& h) {
      return memory_projection ? cross_attention->attend_memory(h, *memory_projection, memory_bias)
                               : cross_attention->forward(h, memory, memory_bias);
    });
  return feed_forward_residual->forward(x, [&](const Tensor& h) { return feed_forward->forward(h); });
}

torch::Tensor TransformerLayerImpl::forward_incremental(const torch::Tensor& x_in, LayerCache& cache,
                                                        const torch::Tensor& memory_bias) {
  using torch::Tensor;
  auto x = self_attention_residual->forward(
      ResidualStream(x_in), [&](const Tensor& h) { return self_attention->forward_incremental(h, cache.self); });
  if (cross_attention)
    x = cross_attention_residual->forward(
        x, [&](const Tensor& h) { return cross_attention->attend_memory(h, cache.memory, memory_bias); });
  return feed_forward_residual->forward(x, [&](const Tensor& h) { return feed_forward->forward(h); }).x;
}

LayerCache TransformerLayerImpl::start_cache(const torch::Tensor& memory) {
  LayerCache cache;
  if (cross_attention) cache.memory = cross_attention->project_memory(memory);
  return cache;
}

namespace {

LinearWeights weights_of(const Linear& linear) { return {linear->weight, linear->bias}; }

SublayerWeights attention_weights(SublayerKind kind, const MultiHeadAttention& attention, const Residual& residual) {
  SublayerWeights s;
  s.kind = kind;
  s.residual = residual->inference_weights();
  s.heads = attention->heads(), s.head_dim = attention->head_dim();
  if (kind == SublayerKind::SelfAttention) {
    s.input = weights_of(attention->query_key_value);
  } else {
    s.input = weights_of(attention->query);
    s.memory = weights_of(attention->key_value);
  }
  s.output = weights_of(attention->output);
  return s;
}

}  // namespace

LayerWeights TransformerLayerImpl::inference_weights() const {
  LayerWeights layer;
  layer.sublayers.push_back(attention_weights(SublayerKind::SelfAttention, self_attention, self_attention_residual));
  if (cross_attention)
    layer.sublayers.push_back(attention_weights(SublayerKind::CrossAttention, cross_attention, cross_attention_residual));
  SublayerWeights ffn;
  ffn.kind = SublayerKind::FeedForward;
  ffn.residual = feed_forward_residual->inference_weights();
  ffn.input = weights_of(feed_forward->expand);
  ffn.output = weights_of(feed_forward->contract);
  layer.sublayers.push_back(ffn);
  return layer;
}

std::vector<Residual> TransformerLayerImpl::residuals() const {
  std::vector<Residual> out{self_attention_residual};
  if (cross_attention_residual) out.push_back(cross_attention_residual);
  out.push_back(feed_forward_residual);
  return out;
}

}  // namespace headcount
