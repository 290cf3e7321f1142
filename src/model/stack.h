// A stack of layers (encoder or decoder) and, when its scheme has one, the final LayerNorm.
#pragma once

#include <torch/torch.h>

#include <optional>

#include "model/layer.h"
#include "model/model_config.h"

namespace headcount {

class TransformerStackImpl : public torch::nn::Module {
 public:
  // cross_attention: a decoder that reads an encoder's output. place: where the stack sits
  // (its depth and the other stack's), for the scheme's initial residual weight and gain.
  TransformerStackImpl(const ModelConfig& config, const StackConfig& stack, bool cross_attention,
                       const StackPlace& place);

  // x: embedded input [batch, T, d]; returns [batch, T, d].
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& self_bias, const torch::Tensor& memory,
                        const torch::Tensor& memory_bias);

  // The layers' cross-attentions, in order (a decoder's; empty modules in an encoder).
  std::vector<MultiHeadAttention> cross_attentions() const;
  // Every residual step of the stack in forward order (Admin walks these).
  std::vector<Residual> residuals() const;
  // Admin profiling: every residual step records into probe until it is detached (nullptr).
  void attach_probe(VarianceProbe* probe);
  VarianceProbe* probe() const { return probe_; }
  // Every attention of the stack records its probabilities into recorder (nullptr: stop).
  void attach_recorder(AttentionRecorder* recorder, const std::string& stack_name);

  // The stack as the inference kernels read it (kernels/inference_step.h), built by each
  // layer from its own members; none while training, profiling or recording, when only
  // the layers' own forward does what is asked.
  std::optional<StackWeights> inference_weights() const;

  std::vector<TransformerLayer> layers;
  torch::nn::LayerNorm final_norm{nullptr};  // schemes with a final LayerNorm only

 private:
  Activation activation_;
  VarianceProbe* probe_ = nullptr;
};
TORCH_MODULE(TransformerStack);

// Whether encoding x (with the padding bias) takes the inference kernel.
bool fused_encoder_applies(const TransformerStackImpl& encoder, const torch::Tensor& x, const torch::Tensor& bias);

}  // namespace headcount
