#include "model/residual.h"

#include <cmath>

#include "kernels/dropout.h"
#include "kernels/reference/residual_reference.h"

namespace headcount {

ResidualImpl::ResidualImpl(ResidualScheme scheme, int64_t d_model, double dropout, double initial_weight)
    : traits_(&traits_of(scheme)), dropout_(dropout) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  if (traits_->weight == ResidualWeight::Learned)
    admin_scale = register_parameter("admin_scale", torch::full({d_model}, initial_weight));
  if (traits_->weight == ResidualWeight::Constant) alpha_ = initial_weight;
}

static double variance_at(const torch::Tensor& t, const torch::Tensor& real_positions) {
  auto values = real_positions.defined() ? t.index({real_positions}) : t;
  return values.to(torch::kDouble).var(/*unbiased=*/false).item<double>();
}

ResidualStream ResidualImpl::combine(const torch::Tensor& x, const torch::Tensor& update) {
  ResidualStepOptions step;
  step.dropout = is_training() ? dropout_ : 0.0;
  if (traits_->weight == ResidualWeight::Learned) step.weight = admin_scale;
  if (traits_->weight == ResidualWeight::Constant) step.alpha = alpha_;
  if (traits_->normalizes_sum) {
    step.gamma = norm->weight;
    step.beta = norm->bias;
    step.eps = norm->options.eps();
  }
  if (!probe_) return residual_step_stream(x, update, step);
  // Admin's profiling reads the dropped update itself: the step unfused.
  auto dropped = hashed_dropout(update, dropout_, is_training());
  probe_->statistics.push_back({variance_at(x, probe_->real_positions), variance_at(dropped, probe_->real_positions)});
  step.dropout = 0;
  return ResidualStream(residual_step_reference(x, dropped, step));
}

ResidualWeights ResidualImpl::inference_weights() const {
  ResidualWeights r;
  r.normalizes_input = traits_->normalizes_input;
  r.normalizes_sum = traits_->normalizes_sum;
  if (admin_scale.defined()) r.weight = admin_scale;
  r.alpha = traits_->weight == ResidualWeight::Constant ? alpha_ : 1.0;
  r.norm = {norm->weight, norm->bias, norm->options.eps()};
  return r;
}

void ResidualImpl::set_scale(double value) {
  TORCH_CHECK(admin_scale.defined(), "set_scale needs a scheme with a learned residual weight (admin, admin-fixed)");
  torch::NoGradGuard no_grad;
  admin_scale.fill_(value);
}

double ResidualImpl::scale() const {
  if (admin_scale.defined()) return admin_scale.mean().item<double>();
  return alpha_;
}

std::vector<double> admin_scales_from_statistics(const std::vector<SublayerStatistics>& statistics) {
  std::vector<double> scales;
  scales.reserve(statistics.size());
  double running = 1.0;
  for (const auto& s : statistics) {
    const double w = running;
    scales.push_back(w);
    running = std::sqrt(w * w * s.input_variance + s.update_variance);
  }
  return scales;
}

}  // namespace headcount
