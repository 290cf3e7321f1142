#include "model/feed_forward.h"

#include "kernels/feed_forward.h"

namespace headcount {

FeedForwardImpl::FeedForwardImpl(int64_t d_model, int64_t ffn_dim, Activation activation, double activation_dropout)
    : activation_(activation), activation_dropout_(activation_dropout) {
  expand = register_module("expand", Linear(d_model, ffn_dim));
  contract = register_module("contract", Linear(ffn_dim, d_model));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  const FeedForwardWeights weights{expand->weight, expand->bias, contract->weight, contract->bias};
  const FeedForwardOptions options{activation_, is_training() ? activation_dropout_ : 0.0, std::nullopt};
  return headcount::feed_forward(x, weights, options);
}

void FeedForwardImpl::initialize(double gain, bool normal) {
  expand->xavier_rows(0, expand->out_features(), gain, normal);
  contract->xavier_rows(0, contract->out_features(), gain, normal);
}

}  // namespace headcount
