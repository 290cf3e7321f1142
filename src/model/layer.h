// One Transformer layer: self-attention, optional cross-attention, FFN, each wrapped in
// a Residual of the configured scheme.
#pragma once

#include <torch/torch.h>

#include "kernels/inference_step.h"
#include "model/attention.h"
#include "model/feed_forward.h"
#include "model/model_config.h"
#include "model/residual.h"

namespace headcount {

struct LayerOptions {
  int64_t d_model = 0;
  StackConfig stack;
  Activation activation = Activation::Relu;
  double dropout = 0, attention_dropout = 0, activation_dropout = 0;
  ResidualScheme scheme = ResidualScheme::PostLn;
  bool cross_attention = false;
  double residual_weight = 1.0;  // initial w or alpha (model/residual_scheme.h)
  double init_gain = 1.0;        // the scheme's gain for value, output and FFN weights
};

class TransformerLayerImpl : public torch::nn::Module {
 public:
  explicit TransformerLayerImpl(const LayerOptions& options);

  // memory and memory_bias are used only with cross-attention; memory_projection, where
  // given, is this layer's keys and values of memory, projected already (a stack projects
  // all its layers' at once: model/memory_projection.h). A stack passes the residual
  // stream from layer to layer (kernels/residual_step.h); a tensor stands for both halves.
  ResidualStream forward(const ResidualStream& x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                         const torch::Tensor& memory_bias, const AttentionCache* memory_projection = nullptr);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                        const torch::Tensor& memory_bias) {
    return forward(ResidualStream(x), self_bias, memory, memory_bias).x;
  }

  // Decoding: x holds only the newest positions; cache has every earlier one.
  torch::Tensor forward_incremental(const torch::Tensor& x, LayerCache& cache, const torch::Tensor& memory_bias);
  LayerCache start_cache(const torch::Tensor& memory);

  // The layer's residual steps in forward order (2 or 3).
  std::vector<Residual> residuals() const;
  // The layer's weights as kernels/inference_step.h reads them, sub-layer by sub-layer in
  // forward order: the one description of what forward computes that the inference
  // kernels follow.
  LayerWeights inference_weights() const;

  MultiHeadAttention self_attention{nullptr};
  MultiHeadAttention cross_attention{nullptr};
  FeedForward feed_forward{nullptr};
  Residual self_attention_residual{nullptr};
  Residual cross_attention_residual{nullptr};
  Residual feed_forward_residual{nullptr};
};
TORCH_MODULE(TransformerLayer);

}  // namespace headcount
