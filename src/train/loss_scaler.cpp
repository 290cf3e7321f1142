#include "train/loss_scaler.h"

#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>
#include <ATen/ops/_amp_update_scale.h>

namespace headcount {

LossScaler::LossScaler(torch::Device device, double initial_scale, double growth, double backoff, int64_t interval)
    : scale_(torch::full({1}, initial_scale, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      growth_tracker_(torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt).device(device))),
      found_inf_(torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      growth_(growth),
      backoff_(backoff),
      interval_(interval) {}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters, double divisor) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> gradients;
  for (const auto& p : parameters)
    if (p.grad().defined()) gradients.push_back(p.grad());
  found_inf_.zero_();
  const auto inverse = (scale_.to(torch::kDouble) * divisor).reciprocal().to(torch::kFloat);
  if (scale_.is_cuda()) {
    at::_amp_foreach_non_finite_check_and_unscale_(gradients, found_inf_, inverse);
  } else {
    for (const auto& g : gradients) {
      if (!torch::isfinite(g).all().item<bool>()) found_inf_.fill_(1.0);
      g.mul_(inverse.item<double>());
    }
  }
  return found_inf_.item<float>() == 0.0f;
}

void LossScaler::update() {
  torch::NoGradGuard no_grad;
  if (scale_.is_cuda()) {
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, growth_, backoff_, interval_);
  } else if (found_inf_.item<float>() != 0.0f) {
    scale_.mul_(backoff_);
    growth_tracker_.zero_();
  } else if (growth_tracker_.item<int64_t>() + 1 >= interval_) {
    scale_.mul_(growth_);
    growth_tracker_.zero_();
  } else {
    growth_tracker_.add_(1);
  }
  found_inf_.zero_();
}

void LossScaler::restore(double scale, int64_t clean_updates) {
  scale_.fill_(scale);
  growth_tracker_.fill_(clean_updates);
}

}  // namespace headcount
