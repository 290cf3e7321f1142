#include "train/adam_update.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "util/vector_clones.h"

namespace headcount {

namespace {

// One update's constants in the parameter's type, passed by value so that the compiler
// knows the loop's stores cannot change them.
template <typename T>
struct AdamConstants {
  T b1, b2, eps, one_minus_b1, one_minus_b2, root_bias2, step_size, decay, shrink;
  bool coupled, decoupled;
};

// Built for AVX-512 and AVX2 beside the baseline (util/vector_clones.h): the square root
// and the division per element are what the update computes, the rest is memory.
template <typename T>
HEADCOUNT_VECTOR_CLONES void adam_range(T* parameter, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t begin,
                                        int64_t end, AdamConstants<T> c) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    if (c.decoupled) parameter[i] *= c.shrink;
    const T g = c.coupled ? grad[i] + c.decay * parameter[i] : grad[i];
    exp_avg[i] = exp_avg[i] * c.b1 + g * c.one_minus_b1;
    exp_avg_sq[i] = exp_avg_sq[i] * c.b2 + g * g * c.one_minus_b2;
    parameter[i] -= c.step_size * exp_avg[i] / (std::sqrt(exp_avg_sq[i]) / c.root_bias2 + c.eps);
  }
}

template <typename T>
void fused_adam(T* parameter, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t size, const AdamUpdate& u) {
  const double t = static_cast<double>(u.step);
  const AdamConstants<T> c{static_cast<T>(u.beta1),
                           static_cast<T>(u.beta2),
                           static_cast<T>(u.eps),
                           static_cast<T>(1.0 - u.beta1),
                           static_cast<T>(1.0 - u.beta2),
                           static_cast<T>(std::sqrt(1.0 - std::pow(u.beta2, t))),
                           static_cast<T>(u.lr / (1.0 - std::pow(u.beta1, t))),
                           static_cast<T>(u.weight_decay),
                           static_cast<T>(1.0 - u.lr * u.weight_decay),
                           u.weight_decay != 0 && !u.decoupled_weight_decay,
                           u.weight_decay != 0 && u.decoupled_weight_decay};
  at::parallel_for(0, size, 32768, [&](int64_t begin, int64_t end) {
    adam_range(parameter, grad, exp_avg, exp_avg_sq, begin, end, c);
  });
}

// LibTorch's operators, for other devices and types.
void plain_adam(torch::Tensor& p, const torch::Tensor& grad_in, torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                const AdamUpdate& u) {
  const double t = static_cast<double>(u.step);
  auto grad = grad_in;
  if (u.weight_decay != 0) {
    if (u.decoupled_weight_decay)
      p.mul_(1.0 - u.lr * u.weight_decay);
    else
      grad = grad.add(p, u.weight_decay);
  }
  exp_avg.mul_(u.beta1).add_(grad, 1.0 - u.beta1);
  exp_avg_sq.mul_(u.beta2).addcmul_(grad, grad, 1.0 - u.beta2);
  auto denominator = (exp_avg_sq.sqrt() / std::sqrt(1.0 - std::pow(u.beta2, t))).add_(u.eps);
  p.addcdiv_(exp_avg, denominator, -u.lr / (1.0 - std::pow(u.beta1, t)));
}

}  // namespace

void adam_update(torch::Tensor& parameter, const torch::Tensor& grad, torch::Tensor& exp_avg,
                 torch::Tensor& exp_avg_sq, const AdamUpdate& update) {
  torch::NoGradGuard no_grad;
  const auto type = parameter.scalar_type();
  auto fits = [&](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == type && t.is_contiguous() && t.numel() == parameter.numel();
  };
  if (!(type == torch::kFloat || type == torch::kDouble) || !fits(parameter) || !fits(grad) || !fits(exp_avg) ||
      !fits(exp_avg_sq))
    return plain_adam(parameter, grad, exp_avg, exp_avg_sq, update);
  AT_DISPATCH_FLOATING_TYPES(type, "adam_update", [&] {
    fused_adam<scalar_t>(parameter.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), exp_avg.data_ptr<scalar_t>(),
                         exp_avg_sq.data_ptr<scalar_t>(), parameter.numel(), update);
  });
}

}  // namespace headcount
