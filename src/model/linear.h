// The one linear layer every projection in the model goes through.
//
// It is a seam: inside, model/thin_linear.h for a few rows without gradients (decoding a
// token at a time), model/onednn_linear.h for float32 on the CPU (training and batches,
// with its own backward), and torch::linear for everything else (GPUs, autocast's bf16
// and fp16). The model code does not notice which. Weight layout follows torch:
// [out_features, in_features].
#pragma once

#include <torch/torch.h>

namespace headcount {

// x [..., in] weight^T + bias -> [..., out] through the fastest of the three; for the
// products that hold their weight outside a Linear (the output layers).
torch::Tensor linear_product(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

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
