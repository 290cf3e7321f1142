// The residual step around every sub-layer (attention or FFN), as its scheme defines it
// (model/residual_scheme.h):
//   x = residual(x, [&](const torch::Tensor& h) { return attention(h, h, bias); });
// reads LN(x) or x as the scheme says, runs the sub-layer, drops out its output, and
// combines it with x. The combining (dropout + weighted add + LayerNorm) is one fused
// forward/backward pair on the CPU (kernels/residual_step.h). x is a ResidualStream: the
// sub-layer reads its branch, the step adds to its x.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "kernels/inference_step.h"
#include "kernels/residual_step.h"
#include "model/residual_scheme.h"

namespace headcount {

// Variances Admin profiling records at one residual sub-layer (padding excluded).
struct SublayerStatistics {
  double input_variance = 0;   // Var[x_{i-1}], the residual branch, with w = 1
  double update_variance = 0;  // Var[f_i(x_{i-1})], after dropout
};

// Attached to a stack's residuals during Admin's profiling forward pass (admin_profile.h).
struct VarianceProbe {
  torch::Tensor real_positions;  // [batch, time] bool, true at real (non-padding) tokens
  std::vector<SublayerStatistics> statistics;  // one per sub-layer, in forward order
};

class ResidualImpl : public torch::nn::Module {
 public:
  // initial_weight: w for a learned weight, alpha for a constant one (ignored otherwise).
  ResidualImpl(ResidualScheme scheme, int64_t d_model, double dropout, double initial_weight);

  // The new residual stream from x and the sub-layer f.
  template <typename Sublayer>
  ResidualStream forward(const ResidualStream& x, Sublayer&& sublayer) {
    return combine(x.x, sublayer(traits_->normalizes_input ? norm->forward(x.branch) : x.branch));
  }

  // Admin: sets every entry of w to value (profiling writes its result here).
  void set_scale(double value);
  // The mean of w (learned weight) or alpha (constant), 1 otherwise; for logs and tests.
  double scale() const;
  // While set, every forward records its variances into probe (nullptr: none).
  void attach_probe(VarianceProbe* probe) { probe_ = probe; }

  ResidualScheme scheme() const { return traits_->scheme; }
  // The step's weights and where its LayerNorm sits, as kernels/inference_step.h reads them.
  ResidualWeights inference_weights() const;

  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor admin_scale;  // [d_model], learned weight only

 private:
  ResidualStream combine(const torch::Tensor& x, const torch::Tensor& update);

  const ResidualTraits* traits_;
  double dropout_;
  double alpha_ = 1.0;
  VarianceProbe* probe_ = nullptr;
};
TORCH_MODULE(Residual);

// Admin's rule: walk the sub-layers with r = 1; w_i = r, r = sqrt(w_i^2 Var[x] + Var[f]).
std::vector<double> admin_scales_from_statistics(const std::vector<SublayerStatistics>& statistics);

}  // namespace headcount
