#include "model/heads.h"

#include "kernels/dropout.h"

namespace headcount {

MaskedLmHeadImpl::MaskedLmHeadImpl(int64_t d_model, torch::Tensor output_weight) : output_weight_(std::move(output_weight)) {
  dense = register_module("dense", Linear(d_model, d_model));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  bias = register_parameter("bias", torch::zeros({output_weight_.size(0)}));
}

torch::Tensor MaskedLmHeadImpl::forward(const torch::Tensor& rows) {
  return linear_product(norm->forward(torch::gelu(dense->forward(rows))), output_weight_, bias);
}

ClassificationHeadImpl::ClassificationHeadImpl(int64_t d_model, int64_t classes, double dropout) : dropout_(dropout) {
  dense = register_module("dense", Linear(d_model, d_model));
  output = register_module("output", Linear(d_model, classes));
}

torch::Tensor ClassificationHeadImpl::forward(const torch::Tensor& hidden) {
  auto first = hidden.select(1, 0);
  auto pooled = torch::tanh(dense->forward(hashed_dropout(first, dropout_, is_training())));
  return output->forward(hashed_dropout(pooled, dropout_, is_training()));
}

}  // namespace headcount
