#include "kernels/inference_step.h"

#include "kernels/cpu/inference_rows.h"

namespace headcount {

std::optional<torch::Tensor> encoder_inference(const StackWeights& encoder, const torch::Tensor& x,
                                               const torch::Tensor& bias) {
  if (!encoder_rows_apply(encoder, x, bias)) return std::nullopt;
  return encoder_rows(encoder, x, bias);
}

bool encoder_inference_applies(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias) {
  return encoder_rows_apply(encoder, x, bias);
}

std::optional<torch::Tensor> decoder_inference_step(const StackWeights& decoder, const torch::Tensor& x,
                                                    std::vector<LayerCache>& caches, const torch::Tensor& memory_bias) {
  if (!decoder_step_rows_apply(decoder, x, caches, memory_bias)) return std::nullopt;
  return decoder_step_rows(decoder, x, caches, memory_bias);
}

}  // namespace headcount
