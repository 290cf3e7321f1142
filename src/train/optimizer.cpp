#include "train/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "train/adam_update.h"

namespace headcount {

namespace {

// LibTorch's state key of a parameter: a string in 1.x, the TensorImpl pointer in later
// versions; whichever the map is declared with.
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what 1.x's c10::guts::to_string wrote (gone in 2.x)
    key << p.unsafeGetTensorImpl();
    return key.str();
  }
  else
    return static_cast<Key>(p.unsafeGetTensorImpl());
}

// Adam and AdamW. LibTorch's class keeps the state and writes and reads it, so checkpoints
// keep LibTorch's format; the update itself is adam_update's single pass per parameter.
template <typename Torch, typename TorchOptions, typename State, bool Decoupled>
class AdamFamily : public Optimizer {
 public:
  AdamFamily(std::vector<torch::Tensor> parameters, TorchOptions options)
      : optimizer_(std::move(parameters), options) {}
  void step(double lr) override {
    torch::NoGradGuard no_grad;
    for (auto& group : optimizer_.param_groups()) {
      auto& options = static_cast<TorchOptions&>(group.options());
      options.lr(lr);
      AdamUpdate update{lr, std::get<0>(options.betas()), std::get<1>(options.betas()), options.eps(),
                        options.weight_decay(), Decoupled};
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& state = cached_state_of(p);
        state.step(state.step() + 1);
        update.step = state.step();
        auto exp_avg = state.exp_avg(), exp_avg_sq = state.exp_avg_sq();
        adam_update(p, p.grad(), exp_avg, exp_avg_sq, update);
      }
    }
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
  void load(torch::serialize::InputArchive& archive) override {
    optimizer_.load(archive);
    states_.clear();  // load replaces the state objects
  }

 private:
  // state_of through a cache by parameter: LibTorch 1.x keys its state map by a string it
  // prints from the parameter's address, a string built for every parameter every update
  // (a 12L-1H model has 385 parameters).
  State& cached_state_of(const torch::Tensor& p) {
    auto& cached = states_[p.unsafeGetTensorImpl()];
    if (!cached) cached = &state_of(p);
    return *cached;
  }

  // The parameter's state, created as LibTorch's own step creates it.
  State& state_of(const torch::Tensor& p) {
    auto& states = optimizer_.state();
    const auto key = state_key(states, p);
    auto found = states.find(key);
    if (found == states.end()) {
      auto state = std::make_unique<State>();
      state->step(0);
      state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      found = states.emplace(key, std::move(state)).first;
    }
    return static_cast<State&>(*found->second);
  }

  Torch optimizer_;
  std::unordered_map<const c10::TensorImpl*, State*> states_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o, std::vector<torch::Tensor> parameters) {
  switch (o.kind) {
    case OptimizerKind::Adam:
      return std::make_unique<AdamFamily<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>>(
        std::move(parameters),
        torch::optim::AdamOptions(1e-3).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerKind::AdamW:
      return std::make_unique<AdamFamily<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>>(
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
