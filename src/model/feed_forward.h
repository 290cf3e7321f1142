// The position-wise feed-forward sub-layer: Linear(d, ffn) -> activation -> dropout -> Linear(ffn, d).
#pragma once

#include <torch/torch.h>

#include "model/linear.h"
#include "model/model_config.h"

namespace headcount {

class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t d_model, int64_t ffn_dim, Activation activation, double activation_dropout);
  torch::Tensor forward(const torch::Tensor& x);
  void initialize(double gain, bool normal);

  Linear expand{nullptr};
  Linear contract{nullptr};

 private:
  Activation activation_;
  double activation_dropout_;
};
TORCH_MODULE(FeedForward);

}  // namespace headcount
