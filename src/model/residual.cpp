#include "model/residual.h"

#include <cmath>

#include "model/dropout.h"

namespace headcount {

ResidualImpl::ResidualImpl(ResidualScheme scheme, int64_t d_model, double dropout, double scale)
    : scheme_(scheme), dropout_(dropout) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  if (scheme == ResidualScheme::Admin || scheme == ResidualScheme::AdminFixed)
    admin_scale = register_parameter("admin_scale", torch::full({d_model}, scale));
  if (scheme == ResidualScheme::DeepNorm) alpha_ = scale;
}

torch::Tensor ResidualImpl::sublayer_input(const torch::Tensor& x) {
  return scheme_ == ResidualScheme::PreLn ? norm->forward(x) : x;
}

static double variance_at(const torch::Tensor& t, const torch::Tensor& real_positions) {
  auto values = real_positions.defined() ? t.index({real_positions}) : t;
  return values.to(torch::kDouble).var(/*unbiased=*/false).item<double>();
}

torch::Tensor ResidualImpl::combine(const torch::Tensor& x, const torch::Tensor& update, VarianceProbe* probe) {
  auto dropped = hashed_dropout(update, dropout_, is_training());
  if (probe) probe->statistics.push_back({variance_at(x, probe->real_positions), variance_at(dropped, probe->real_positions)});
  switch (scheme_) {
    case ResidualScheme::PreLn: return x + dropped;
    case ResidualScheme::PostLn: return norm->forward(x + dropped);
    case ResidualScheme::Admin:
    case ResidualScheme::AdminFixed: return norm->forward(torch::addcmul(dropped, x, admin_scale));
    case ResidualScheme::DeepNorm: return norm->forward(torch::add(dropped, x, alpha_));
  }
  return x;
}

void ResidualImpl::set_scale(double value) {
  TORCH_CHECK(admin_scale.defined(), "set_scale needs the admin or admin-fixed scheme");
  torch::NoGradGuard no_grad;
  admin_scale.fill_(value);
}

double ResidualImpl::scale() const {
  if (admin_scale.defined()) return admin_scale.mean().item<double>();
  return alpha_;
}

double admin_fixed_scale(int64_t sublayers) {
  const double n1 = static_cast<double>(sublayers) + 1.0;
  return std::sqrt(n1 / std::log(n1) - 1.0);
}

DeepNormCoefficients deepnorm_encoder(int64_t encoder_layers, int64_t decoder_layers) {
  const double n = static_cast<double>(encoder_layers), m = static_cast<double>(decoder_layers);
  if (decoder_layers == 0) return {std::pow(2.0 * n, 0.25), std::pow(8.0 * n, -0.25)};
  const double base = std::pow(n, 4.0) * m;
  return {0.81 * std::pow(base, 1.0 / 16.0), 0.87 * std::pow(base, -1.0 / 16.0)};
}

DeepNormCoefficients deepnorm_decoder(int64_t encoder_layers, int64_t decoder_layers) {
  const double m = static_cast<double>(decoder_layers);
  if (encoder_layers == 0) return {std::pow(2.0 * m, 0.25), std::pow(8.0 * m, -0.25)};
  return {std::pow(3.0 * m, 0.25), std::pow(12.0 * m, -0.25)};
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
