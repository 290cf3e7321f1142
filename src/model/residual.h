// The residual step around every sub-layer (attention or FFN), for each scheme:
//   post-ln      x_i = LN(x + f(x))
//   pre-ln       x_i = x + f(LN(x))                 (the stack ends with a LayerNorm)
//   admin        x_i = LN(w * x + f(x))             w: learnable [d], set by profiling
//   admin-fixed  x_i = LN(w * x + f(x))             w: learnable [d], closed-form start
//   deepnorm     x_i = LN(alpha * x + f(x))         alpha: constant
// f(x) has dropout applied here, before the sum. Like Linear this is one module behind
// one seam, so a fused kernel can replace the scale + dropout + add + LayerNorm later.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/model_config.h"

namespace headcount {

// Variances Admin profiling records at one residual sub-layer (padding excluded).
struct SublayerStatistics {
  double input_variance = 0;   // Var[x_{i-1}], the residual branch, with w = 1
  double update_variance = 0;  // Var[f_i(x_{i-1})], after dropout
};

// Passed down a stack during the profiling forward pass; null otherwise.
struct VarianceProbe {
  torch::Tensor real_positions;  // [batch, time] bool, true at real (non-padding) tokens
  std::vector<SublayerStatistics> statistics;  // one per sub-layer, in forward order
};

class ResidualImpl : public torch::nn::Module {
 public:
  // scale: the initial w for admin/admin-fixed, alpha for deepnorm; ignored otherwise.
  ResidualImpl(ResidualScheme scheme, int64_t d_model, double dropout, double scale);

  // What the sub-layer reads: LN(x) for pre-ln, x itself otherwise.
  torch::Tensor sublayer_input(const torch::Tensor& x);
  // The new residual stream from the old one and the sub-layer's output.
  torch::Tensor combine(const torch::Tensor& x, const torch::Tensor& update, VarianceProbe* probe = nullptr);

  // Admin: sets every entry of w to value (profiling writes its result here).
  void set_scale(double value);
  // The mean of w (admin schemes) or alpha (deepnorm), 1 otherwise; for logs and tests.
  double scale() const;

  ResidualScheme scheme() const { return scheme_; }

  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor admin_scale;  // [d_model], admin and admin-fixed only

 private:
  ResidualScheme scheme_;
  double dropout_;
  double alpha_ = 1.0;
};
TORCH_MODULE(Residual);

// admin-fixed: w = sqrt((N+1)/ln(N+1) - 1), N = residual sub-layers in the stack.
double admin_fixed_scale(int64_t sublayers);

// DeepNet's residual scale alpha and initialisation gain beta for one stack.
struct DeepNormCoefficients {
  double alpha = 1.0;
  double beta = 1.0;
};
// encoder_layers/decoder_layers: 0 when the stack does not exist.
DeepNormCoefficients deepnorm_encoder(int64_t encoder_layers, int64_t decoder_layers);
DeepNormCoefficients deepnorm_decoder(int64_t encoder_layers, int64_t decoder_layers);

// Admin's rule: walk the sub-layers with r = 1; w_i = r, r = sqrt(w_i^2 Var[x] + Var[f]).
std::vector<double> admin_scales_from_statistics(const std::vector<SublayerStatistics>& statistics);

}  // namespace headcount
