#include "train/gradient_clipping.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace headcount {

namespace {

bool fused_applies(const torch::Tensor& grad) {
  return grad.device().is_cpu() && grad.is_contiguous() &&
         (grad.scalar_type() == torch::kFloat || grad.scalar_type() == torch::kDouble);
}

// Squares summed in double, one tensor after another in order: the same norm whatever the
// thread count. (The loops are templates of their own: a pragma cannot sit inside the
// dispatch macro's argument.)
template <typename T>
double squares_of(const T* g, int64_t n) {
  double total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  return total;
}

template <typename T>
void scale_range(T* g, int64_t begin, int64_t end, T factor) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) g[i] *= factor;
}

double sum_of_squares(const torch::Tensor& grad) {
  double total = 0;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "gradient_sum_of_squares",
                             [&] { total = squares_of(grad.data_ptr<scalar_t>(), grad.numel()); });
  return total;
}

void scale(torch::Tensor& grad, double factor) {
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "gradient_scale", [&] {
    scalar_t* g = grad.data_ptr<scalar_t>();
    at::parallel_for(0, grad.numel(), 65536, [&](int64_t begin, int64_t end) {
      scale_range(g, begin, end, static_cast<scalar_t>(factor));
    });
  });
}

}  // namespace

double normalize_and_clip_gradients(const std::vector<torch::Tensor>& parameters, double divisor, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  bool fused = true;
  for (const auto& p : parameters)
    if (p.grad().defined()) {
      grads.push_back(p.grad());
      fused = fused && fused_applies(grads.back());
    }
  if (!fused) {
    // Other devices: LibTorch's operators, one reduction for all tensors.
    for (auto& g : grads) g.div_(divisor);
    return torch::nn::utils::clip_grad_norm_(parameters, max_norm);
  }
  double squares = 0;
  for (const auto& g : grads) squares += sum_of_squares(g);
  const double norm = std::sqrt(squares) / divisor;
  double factor = 1.0 / divisor;
  const double clip = max_norm / (norm + 1e-6);
  if (clip < 1.0) factor *= clip;
  for (auto& g : grads) scale(g, factor);
  return norm;
}

}  // namespace headcount
