#include "model/residual_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "model/dropout.h"
#include "model/dropout_mask.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per block of the parameter-gradient sums: fixed, so the order of every sum is.
constexpr int64_t kRowsPerBlock = 16;

// One call's sizes and constants; pointers of the rows' tensors are passed beside it.
template <typename T>
struct Step {
  int64_t rows, width;
  const T* weight;  // [width]: w, or alpha repeated
  const T* gamma;   // nullptr: no LayerNorm
  const T* beta;
  T eps;
  DropoutMask mask;
  bool drop;
  T keep_scale;
  bool normalizes() const { return gamma != nullptr; }
};

// kept[j] = dropout(update)[j] for the row starting at element `base`, so the mask is the
// one hashed_dropout draws for a contiguous tensor (element index = hash input).
template <typename T>
inline T dropped(const Step<T>& s, T value, int64_t index) {
  return s.mask.hash(static_cast<uint32_t>(index)) >= s.mask.threshold() ? value * s.keep_scale : T(0);
}

// out: the step's result; normalized and rstd (LayerNorm only) are kept for backward, and
// are nullptr when nothing will run backward (decoding, evaluation).
template <typename T>
void residual_forward(const Step<T>& s, const T* x, const T* update, T* out, T* normalized, T* rstd) {
  const int64_t d = s.width;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d));
  at::parallel_for(0, s.rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t base = r * d;
      T* sum = normalized ? normalized + base : out + base;
      if (s.drop) {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) sum[j] = dropped(s, update[base + j], base + j) + s.weight[j] * x[base + j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) sum[j] = update[base + j] + s.weight[j] * x[base + j];
      }
      if (!s.normalizes()) continue;
      T total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t j = 0; j < d; ++j) total += sum[j];
      const T mean = total / static_cast<T>(d);
      T squares = 0;
#pragma omp simd reduction(+ : squares)
      for (int64_t j = 0; j < d; ++j) squares += (sum[j] - mean) * (sum[j] - mean);
      const T inverse = T(1) / std::sqrt(squares / static_cast<T>(d) + s.eps);
      if (!normalized) {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) sum[j] = (sum[j] - mean) * inverse * s.gamma[j] + s.beta[j];
        continue;
      }
      rstd[r] = inverse;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) {
        sum[j] = (sum[j] - mean) * inverse;
        out[base + j] = sum[j] * s.gamma[j] + s.beta[j];
      }
    }
  });
}

// Per-block partial sums of the parameter gradients: [blocks][3][width] (gamma, beta, w).
// x is needed only for w's gradient (nullptr: w is a constant).
template <typename T>
void residual_backward(const Step<T>& s, const T* x, const T* normalized, const T* rstd, const T* grad, T* x_grad,
                       T* update_grad, T* partials) {
  const int64_t d = s.width;
  const int64_t blocks = (s.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d * kRowsPerBlock));
  at::parallel_for(0, blocks, grain, [&](int64_t first_block, int64_t last_block) {
    for (int64_t block = first_block; block < last_block; ++block) {
      T* gamma_grad = partials + block * 3 * d;
      T* beta_grad = gamma_grad + d;
      T* weight_grad = beta_grad + d;
      const int64_t row_end = std::min(s.rows, (block + 1) * kRowsPerBlock);
      for (int64_t r = block * kRowsPerBlock; r < row_end; ++r) {
        const int64_t base = r * d;
        const T* g = grad + base;
        T* sum_grad = update_grad + base;  // the sum's gradient, masked in place below
        if (s.normalizes()) {
          // d sum = rstd * (g*gamma - mean(g*gamma) - n * mean(g*gamma*n))
          const T* n = normalized + base;
          T mean_gn = 0, mean_gnn = 0;
#pragma omp simd reduction(+ : mean_gn, mean_gnn)
          for (int64_t j = 0; j < d; ++j) {
            const T gn = g[j] * s.gamma[j];
            mean_gn += gn;
            mean_gnn += gn * n[j];
          }
          mean_gn /= static_cast<T>(d);
          mean_gnn /= static_cast<T>(d);
#pragma omp simd
          for (int64_t j = 0; j < d; ++j) {
            gamma_grad[j] += g[j] * n[j];
            beta_grad[j] += g[j];
            sum_grad[j] = rstd[r] * (g[j] * s.gamma[j] - mean_gn - n[j] * mean_gnn);
          }
        } else {
          std::copy(g, g + d, sum_grad);
        }
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) x_grad[base + j] = sum_grad[j] * s.weight[j];
        if (x) {
#pragma omp simd
          for (int64_t j = 0; j < d; ++j) weight_grad[j] += sum_grad[j] * x[base + j];
        }
        if (s.drop) {
#pragma omp simd
          for (int64_t j = 0; j < d; ++j) sum_grad[j] = dropped(s, sum_grad[j], base + j);
        }
      }
    }
  });
}

template <typename T>
Step<T> step_of(int64_t rows, int64_t width, const T* weight, const torch::Tensor& gamma, const torch::Tensor& beta,
                double eps, double dropout, int64_t seed) {
  const bool normalizes = gamma.numel() > 0;
  return {rows,
          width,
          weight,
          normalizes ? gamma.data_ptr<T>() : nullptr,
          normalizes ? beta.data_ptr<T>() : nullptr,
          static_cast<T>(eps),
          DropoutMask(static_cast<uint64_t>(seed), dropout),
          dropout > 0,
          dropout > 0 ? static_cast<T>(1.0 / (1.0 - dropout)) : T(1)};
}

// w as a [width] tensor: the learned one, or alpha repeated (one small tensor per call).
torch::Tensor weight_row(const torch::Tensor& weight, double alpha, int64_t width, const torch::Tensor& like) {
  return weight.numel() > 0 ? weight.contiguous() : torch::full({width}, alpha, like.options());
}

// Autograd functions take no undefined tensors: an empty weight stands for alpha, an empty
// gamma (and beta) for no LayerNorm.
class ResidualFunction : public torch::autograd::Function<ResidualFunction> {
 public:
  static torch::Tensor forward(AutogradContext* context, torch::Tensor x, torch::Tensor update, torch::Tensor weight,
                               torch::Tensor gamma, torch::Tensor beta, double alpha, double dropout, int64_t seed,
                               double eps, bool keeps_for_backward) {
    x = x.contiguous();
    update = update.contiguous();
    const int64_t width = x.size(-1), rows = width > 0 ? x.numel() / width : 0;
    const bool normalizes = gamma.numel() > 0;
    const bool keeps = normalizes && keeps_for_backward;
    auto out = torch::empty(x.sizes(), x.options());
    auto normalized = keeps ? torch::empty(x.sizes(), x.options()) : torch::Tensor();
    auto rstd = keeps ? torch::empty({rows}, x.options()) : torch::Tensor();
    const auto w = weight_row(weight, alpha, width, x);
    const auto g = normalizes ? gamma.contiguous() : gamma;
    const auto b = normalizes ? beta.contiguous() : beta;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "residual_step", [&] {
      const auto s = step_of<scalar_t>(rows, width, w.data_ptr<scalar_t>(), g, b, eps, dropout, seed);
      residual_forward<scalar_t>(s, x.data_ptr<scalar_t>(), update.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                                 keeps ? normalized.data_ptr<scalar_t>() : nullptr,
                                 keeps ? rstd.data_ptr<scalar_t>() : nullptr);
    });
    if (!keeps_for_backward) return out;
    const auto none = torch::empty({0}, x.options());
    // x is needed only for w's gradient.
    context->save_for_backward({weight.numel() > 0 ? x : none, w, g, b, normalizes ? normalized : none,
                                normalizes ? rstd : none});
    context->saved_data["learned"] = weight.numel() > 0;
    context->saved_data["dropout"] = dropout;
    context->saved_data["seed"] = seed;
    context->saved_data["eps"] = eps;
    return out;
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto& gamma = saved[2];
    const auto& beta = saved[3];
    const auto& normalized = saved[4];
    const auto& rstd = saved[5];
    const bool learned = context->saved_data["learned"].toBool();
    const bool normalizes = gamma.numel() > 0;
    const auto grad = grad_outputs[0].contiguous();
    const int64_t width = grad.size(-1), rows = width > 0 ? grad.numel() / width : 0;
    const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
    auto x_grad = torch::empty(grad.sizes(), grad.options());
    auto update_grad = torch::empty(grad.sizes(), grad.options());
    auto partials = torch::zeros({blocks, 3, width}, grad.options());
    auto totals = torch::zeros({3, width}, grad.options());
    AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "residual_step_backward", [&] {
      const auto s = step_of<scalar_t>(rows, width, w.data_ptr<scalar_t>(), gamma, beta,
                                       context->saved_data["eps"].toDouble(),
                                       context->saved_data["dropout"].toDouble(), context->saved_data["seed"].toInt());
      residual_backward<scalar_t>(s, learned ? x.data_ptr<scalar_t>() : nullptr, normalizes ? normalized.data_ptr<scalar_t>() : nullptr,
                                  normalizes ? rstd.data_ptr<scalar_t>() : nullptr, grad.data_ptr<scalar_t>(),
                                  x_grad.data_ptr<scalar_t>(), update_grad.data_ptr<scalar_t>(),
                                  partials.data_ptr<scalar_t>());
      // The blocks' partial sums, in block order.
      const scalar_t* partial = partials.data_ptr<scalar_t>();
      scalar_t* total = totals.data_ptr<scalar_t>();
      for (int64_t block = 0; block < blocks; ++block)
        for (int64_t j = 0; j < 3 * width; ++j) total[j] += partial[block * 3 * width + j];
    });
    return {x_grad,
            update_grad,
            learned ? totals[2] : torch::Tensor(),
            normalizes ? totals[0] : torch::Tensor(),
            normalizes ? totals[1] : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

bool kernel_applies(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& o) {
  const auto type = x.scalar_type();
  auto same_type = [&](const torch::Tensor& t) { return !t.defined() || (t.scalar_type() == type && t.device().is_cpu()); };
  return x.device().is_cpu() && update.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble) &&
         x.dim() >= 1 && x.sizes() == update.sizes() && o.dropout < 1 && same_type(o.weight) && same_type(o.gamma) &&
         same_type(o.beta) && o.gamma.defined() == o.beta.defined();
}

}  // namespace

torch::Tensor residual_step(const torch::Tensor& x, const torch::Tensor& update_in, const ResidualStepOptions& o) {
  // A mixed-precision product's bf16 output joins the fp32 stream in fp32, as the
  // unfused sum's type promotion and autocast's fp32 layer_norm would have it.
  const bool reduced = update_in.scalar_type() == torch::kBFloat16 || update_in.scalar_type() == torch::kHalf;
  const auto update = reduced && x.device().is_cpu() ? update_in.to(x.scalar_type()) : update_in;
  if (!kernel_applies(x, update, o)) return residual_step_reference(x, update, o);
  int64_t seed = 0;
  if (o.dropout > 0) seed = static_cast<int64_t>(o.seed ? *o.seed : draw_dropout_seed());
  const auto none = torch::empty({0}, x.options());
  auto stand_in = [&](const torch::Tensor& t) { return t.defined() ? t : none; };
  auto wants_gradient = [](const torch::Tensor& t) { return t.defined() && t.requires_grad(); };
  const bool keeps = torch::GradMode::is_enabled() && (wants_gradient(x) || wants_gradient(update) ||
                                                       wants_gradient(o.weight) || wants_gradient(o.gamma) ||
                                                       wants_gradient(o.beta));
  return ResidualFunction::apply(x, update, stand_in(o.weight), stand_in(o.gamma), stand_in(o.beta), o.alpha,
                                 o.dropout, seed, o.eps, keeps);
}

torch::Tensor residual_step_reference(const torch::Tensor& x, const torch::Tensor& update,
                                      const ResidualStepOptions& o) {
  const auto dropped = hashed_dropout(update, o.dropout, o.dropout > 0, o.seed);
  torch::Tensor sum;
  if (o.weight.defined())
    sum = torch::addcmul(dropped, x, o.weight);
  else if (o.alpha == 1.0)
    sum = x + dropped;
  else
    sum = torch::add(dropped, x, o.alpha);
  if (!o.gamma.defined()) return sum;
  return torch::layer_norm(sum, {x.size(-1)}, o.gamma, o.beta, o.eps);
}

}  // namespace headcount
