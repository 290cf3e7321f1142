#include "train/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace headcount {

namespace {

template <typename Torch, typename TorchOptions>
class TorchOptimizer : public Optimizer {
 public:
  TorchOptimizer(std::vector<torch::Tensor> parameters, TorchOptions options)
      : optimizer_(std::move(parameters), options) {}
  void step(double lr) override {
    for (auto& group : optimizer_.param_groups()) static_cast<TorchOptions&>(group.options()).lr(lr);
    optimizer_.step();
  }
  // Gradients to undefined, as RAdam does and as LibTorch 2's zero_grad() does by default
  // (1.13's zeroes them in place): the same numbers with either LibTorch, and backward
  // then writes each gradient instead of adding it to zeros.
  void zero_grad() override {
    for (auto& group : optimizer_.param_groups())
      for (auto& p : group.params())
        if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
  void save(torch::serialize::OutputArchive& archive) override { optimizer_.save(archive); }
  void load(torch::serialize::InputArchive& archive) override { optimizer_.load(archive); }

 private:
  Torch optimizer_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o, std::vector<torch::Tensor> parameters) {
  switch (o.kind) {
    case OptimizerKind::Adam:
      return std::make_unique<TorchOptimizer<torch::optim::Adam, torch::optim::AdamOptions>>(
        std::move(parameters),
        torch::optim::AdamOptions(1e-3).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerKind::AdamW:
      return std::make_unique<TorchOptimizer<torch::optim::AdamW, torch::optim::AdamWOptions>>(
        std::move(parameters),
        torch::optim::AdamWOptions(1e-3).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerKind::RAdam: return std::make_unique<RAdam>(std::move(parameters), o);
  }
  throw std::logic_error("optimizer kind missing from make_optimizer");
}

RAdam::RAdam(std::vector<torch::Tensor> parameters, const OptimizerOptions& options)
    : parameters_(std::move(parameters)), options_(options) {
  for (const auto& p : parameters_) {
    first_moment_.push_back(torch::zeros_like(p));
    second_moment_.push_back(torch::zeros_like(p));
  }
}

double RAdam::rectification(int64_t t, double beta2) {
  const double rho_infinity = 2.0 / (1.0 - beta2) - 1.0;
  const double beta2_t = std::pow(beta2, static_cast<double>(t));
  const double rho_t = rho_infinity - 2.0 * static_cast<double>(t) * beta2_t / (1.0 - beta2_t);
  if (rho_t <= 4.0) return 0.0;
  return std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_infinity / ((rho_infinity - 4.0) * (rho_infinity - 2.0) * rho_t));
}

void RAdam::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
  const double r = rectification(steps_, b2);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i];
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    first_moment_[i].mul_(b1).add_(g, 1.0 - b1);
    second_moment_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
    if (options_.weight_decay != 0) p.mul_(1.0 - lr * options_.weight_decay);
    if (r > 0) {
      auto denominator = (second_moment_[i] / bias2).sqrt_().add_(options_.eps);
      p.addcdiv_(first_moment_[i], denominator, -lr * r / bias1);
    } else {
      p.add_(first_moment_[i], -lr / bias1);
    }
  }
}

void RAdam::zero_grad() {
  for (auto& p : parameters_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void RAdam::save(torch::serialize::OutputArchive& archive) {
  archive.write("radam.steps", torch::tensor(steps_));
  for (size_t i = 0; i < parameters_.size(); ++i) {
    archive.write(fmt::format("radam.first_moment.{}", i), first_moment_[i], /*is_buffer=*/true);
    archive.write(fmt::format("radam.second_moment.{}", i), second_moment_[i], true);
  }
}

void RAdam::load(torch::serialize::InputArchive& archive) {
  torch::Tensor steps;
  archive.read("radam.steps", steps);
  steps_ = steps.item<int64_t>();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    archive.read(fmt::format("radam.first_moment.{}", i), first_moment_[i], true);
    archive.read(fmt::format("radam.second_moment.{}", i), second_moment_[i], true);
  }
}

}  // namespace headcount
