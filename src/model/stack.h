// A stack of layers (encoder or decoder) with its embedding of positions and,
// for pre-ln, the final LayerNorm.
#pragma once

#include <torch/torch.h>

#include "model/layer.h"
#include "model/model_config.h"

namespace headcount {

class TransformerStackImpl : public torch::nn::Module {
 public:
  // cross_attention: a decoder that reads an encoder's output.
  TransformerStackImpl(const ModelConfig& config, const StackConfig& stack, bool cross_attention,
                       double residual_scale, double init_gain);

  // x: embedded input [batch, T, d]; returns [batch, T, d].
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                        const torch::Tensor& memory_bias, VarianceProbe* probe = nullptr);

  // Every residual step of the stack in forward order (Admin walks these).
  std::vector<Residual> residuals() const;

  std::vector<TransformerLayer> layers;
  torch::nn::LayerNorm final_norm{nullptr};  // pre-ln only
};
TORCH_MODULE(TransformerStack);

}  // namespace headcount
