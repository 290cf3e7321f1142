#include "model/residual.h"

#include <cmath>

#include "model/dropout.h"

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

torch::Tensor ResidualImpl::combine(const torch::Tensor& x, const torch::Tensor& update) {
  auto dropped = hashed_dropout(update, dropout_, is_training());
  if (probe_)
    probe_->statistics.push_back({variance_at(x, probe_->real_positions), variance_at(dropped, probe_->real_positions)});
  torch::Tensor sum;
  switch (traits_->weight) {
    case ResidualWeight::None: sum = x + dropped; break;
    case ResidualWeight::Learned: sum = torch::addcmul(dropped, x, admin_scale); break;
    case ResidualWeight::Constant: sum = torch::add(dropped, x, alpha_); break;
  }
  return traits_->normalizes_sum ? norm->forward(sum) : sum;
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
