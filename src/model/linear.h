// The linear layer every projection in the model is: its weight and bias, their
// initialisation, and its forward through kernels/linear_product.h, which picks the product
// for the device, precision and rows at hand. Weight layout follows torch:
// [out_features, in_features].
#pragma once

#include <torch/torch.h>

#include "kernels/linear_product.h"

namespace headcount {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);

  // x: [..., in_features] -> [..., out_features]
  torch::Tensor forward(const torch::Tensor& x);

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  // Fills rows [begin, end) of the weight as if they were one matrix of their own:
  // fused projections (query, key and value in one product) keep the initialisation
  // that separate matrices would get. Xavier-uniform when normal is false.
  void xavier_rows(int64_t begin, int64_t end, double gain, bool normal);

  torch::Tensor weight;
  torch::Tensor bias;  // undefined when constructed without bias

 private:
  int64_t in_features_;
  int64_t out_features_;
};
TORCH_MODULE(Linear);

}  // namespace headcount
