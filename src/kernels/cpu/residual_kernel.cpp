#include "kernels/cpu/residual_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/dropout_mask.h"
#include "util/lane_sum.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per block of the parameter-gradient sums: fixed, so the order of every sum is.
constexpr int64_t kRowsPerBlock = 16;
// Rows whose LayerNorm sums the forward computes side by side: each row's sums wait on
// one another (the variance on the mean, the row on both), and a group's independent
// chains, adjacent in the program, keep the core busy while each waits. (The backward's
// two sums of a row are independent already; grouping its rows measured no faster.)
constexpr int64_t kRowGroup = 4;

// One call's sizes and constants; pointers of the rows' tensors are passed beside it.
template <typename T>
struct Step {
  int64_t rows, width;
  const T* weight;  // [width]: w, or alpha repeated
  const T* gamma;   // nullptr: no LayerNorm
  const T* beta;
  const T* inverse_gamma;  // backward only: 1/gamma when the normalized row is recovered from the output
  T eps;
  DropoutMask mask;
  bool drop;
  T keep_scale;
  bool normalizes() const { return gamma != nullptr; }
};

// The row loops below take their constants by value and their rows as restrict
// pointers: only then does the compiler know a store cannot change them, and vectorise
// (the mask's hash included, as in kernels/cpu/dropout_kernel.cpp). The mask selects a factor, never
// whether to load: a conditional load is control flow, and the loop would stay scalar.
// Always inlined, so the AVX2 clone of their caller (util/vector_clones.h) has them in AVX2.

// sum = dropout(update) + w * x over one row whose first element has index `first`, so
// the mask is the one hashed_dropout draws for a contiguous tensor (element index = hash
// input).
template <typename T>
[[gnu::always_inline]] inline void add_row(T* __restrict sum, const T* __restrict update, const T* __restrict w, const T* __restrict x, int64_t d,
             DropoutMask mask, bool drop, T keep, int64_t first) {
  if (drop) {
    const uint32_t threshold = mask.threshold();
#pragma omp simd
    for (int64_t j = 0; j < d; ++j)
      sum[j] = update[j] * (mask.hash(static_cast<uint32_t>(first + j)) >= threshold ? keep : T(0)) + w[j] * x[j];
  } else {
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) sum[j] = update[j] + w[j] * x[j];
  }
}

// row = dropout's factor * row, in place (backward: the gradient is masked as the value was).
template <typename T>
[[gnu::always_inline]] inline void mask_row(T* __restrict row, int64_t d, DropoutMask mask, T keep, int64_t first) {
  const uint32_t threshold = mask.threshold();
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) row[j] *= mask.hash(static_cast<uint32_t>(first + j)) >= threshold ? keep : T(0);
}

template <typename T>
[[gnu::always_inline]] inline T row_sum(const T* __restrict row, int64_t d) {
  return lane_sum<T>(d, [&](int64_t j) { return row[j]; });
}

// A row's mean and 1/std, for its LayerNorm.
template <typename T>
[[gnu::always_inline]] inline T row_mean(const T* __restrict sum, int64_t d) {
  return row_sum(sum, d) / static_cast<T>(d);
}

template <typename T>
[[gnu::always_inline]] inline T row_inverse_std(const T* __restrict sum, T mean, int64_t d, T eps) {
  const T squares = lane_sum<T>(d, [&](int64_t j) { return (sum[j] - mean) * (sum[j] - mean); });
  return T(1) / std::sqrt(squares / static_cast<T>(d) + eps);
}

// LayerNorm of one row given its moments: sum becomes the normalized row n (kept for
// backward) and out gets gamma * n + beta; with out == nullptr, sum itself gets
// gamma * n + beta.
template <typename T>
[[gnu::always_inline]] inline void normalize_row(T* __restrict sum, T* __restrict out, const T* __restrict gamma,
                                                 const T* __restrict beta, int64_t d, T mean, T inverse) {
  if (!out) {
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) sum[j] = (sum[j] - mean) * inverse * gamma[j] + beta[j];
    return;
  }
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) {
    sum[j] = (sum[j] - mean) * inverse;
    out[j] = sum[j] * gamma[j] + beta[j];
  }
}

// LayerNorm's backward for one row: sum_grad = rstd * (g*gamma - mean(g*gamma) - n *
// mean(g*gamma*n)); gamma's and beta's gradients added into their block's partial sums.
template <typename T>
[[gnu::always_inline]] inline void normalize_row_backward(const T* __restrict g, const T* __restrict n, const T* __restrict gamma, T rstd, int64_t d,
                            T* __restrict sum_grad, T* __restrict gamma_grad, T* __restrict beta_grad) {
  const T mean_gn = lane_sum<T>(d, [&](int64_t j) { return g[j] * gamma[j]; }) / static_cast<T>(d);
  const T mean_gnn = lane_sum<T>(d, [&](int64_t j) { return g[j] * gamma[j] * n[j]; }) / static_cast<T>(d);
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) {
    gamma_grad[j] += g[j] * n[j];
    beta_grad[j] += g[j];
    sum_grad[j] = rstd * (g[j] * gamma[j] - mean_gn - n[j] * mean_gnn);
  }
}

// a + b for one row, into sum.
template <typename T>
[[gnu::always_inline]] inline const T* add_row_pair(const T* __restrict a, const T* __restrict b, int64_t d,
                                                    T* __restrict sum) {
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) sum[j] = a[j] + b[j];
  return sum;
}

// n = (out - beta) / gamma for one row, into n_row.
template <typename T>
[[gnu::always_inline]] inline const T* recover_normalized_row(const T* __restrict out, const T* __restrict beta,
                                                              const T* __restrict inverse_gamma, int64_t d,
                                                              T* __restrict n_row) {
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) n_row[j] = (out[j] - beta[j]) * inverse_gamma[j];
  return n_row;
}

// x_grad = sum_grad * w; w's gradient (x given: w is learned) += sum_grad * x.
template <typename T>
[[gnu::always_inline]] inline void weight_row_backward(const T* __restrict sum_grad, const T* __restrict w, const T* __restrict x, int64_t d,
                         T* __restrict x_grad, T* __restrict weight_grad) {
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) x_grad[j] = sum_grad[j] * w[j];
  if (!x) return;
#pragma omp simd
  for (int64_t j = 0; j < d; ++j) weight_grad[j] += sum_grad[j] * x[j];
}

// The row loops below are compiled for the common model widths as constants (Width > 0)
// and once for any width (Width = 0). Why: a row of 64 is four 16-lane vectors, and with
// its width unknown every loop over it pays its set-up and remainder checks; with the
// width known the loops unroll (docs/benchmarks.md, "Weight gradients split by rows, and
// the residual step's row loops").
template <typename Call>
void with_width(int64_t width, Call call) {
  switch (width) {
    case 64: return call(std::integral_constant<int64_t, 64>());
    case 128: return call(std::integral_constant<int64_t, 128>());
    case 256: return call(std::integral_constant<int64_t, 256>());
    case 512: return call(std::integral_constant<int64_t, 512>());
    case 768: return call(std::integral_constant<int64_t, 768>());
    case 1024: return call(std::integral_constant<int64_t, 1024>());
    default: return call(std::integral_constant<int64_t, 0>());
  }
}

// out: the step's result; normalized and rstd (LayerNorm only) are kept for backward, and
// are nullptr when nothing will run backward (decoding, evaluation).
template <typename T, int64_t Width>
HEADCOUNT_VECTOR_CLONES void forward_rows(const Step<T>& s, const T* x, const T* update, T* out, T* normalized,
                                          T* rstd, int64_t begin, int64_t end) {
  const int64_t d = Width > 0 ? Width : s.width;
  T* sums = normalized ? normalized : out;
  for (int64_t first = begin; first < end; first += kRowGroup) {
    const int64_t rows = std::min(kRowGroup, end - first);
    for (int64_t q = 0; q < rows; ++q) {
      const int64_t base = (first + q) * d;
      add_row(sums + base, update + base, s.weight, x + base, d, s.mask, s.drop, s.keep_scale, base);
    }
    if (!s.normalizes()) continue;
    T mean[kRowGroup], inverse[kRowGroup];
    for (int64_t q = 0; q < rows; ++q) mean[q] = row_mean(sums + (first + q) * d, d);
    for (int64_t q = 0; q < rows; ++q) inverse[q] = row_inverse_std(sums + (first + q) * d, mean[q], d, s.eps);
    for (int64_t q = 0; q < rows; ++q) {
      const int64_t base = (first + q) * d;
      normalize_row(sums + base, normalized ? out + base : nullptr, s.gamma, s.beta, d, mean[q], inverse[q]);
      if (rstd) rstd[first + q] = inverse[q];
    }
  }
}

template <typename T>
void residual_forward(const Step<T>& s, const T* x, const T* update, T* out, T* normalized, T* rstd) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, s.width));
  with_width(s.width, [&](auto width) {
    at::parallel_for(0, s.rows, grain, [&](int64_t begin, int64_t end) {
      forward_rows<T, decltype(width)::value>(s, x, update, out, normalized, rstd, begin, end);
    });
  });
}

// Per-block partial sums of the parameter gradients: [blocks][3][width] (gamma, beta, w).
// x is needed only for w's gradient (nullptr: w is a constant).
// `normalized` is the normalized rows themselves, or (s.inverse_gamma set) the step's output,
// from which each row's n = (out - beta) / gamma is recovered into `recovered`.
// The output's gradient is grad + branch_grad, either nullptr for none (ResidualStream).
template <typename T, int64_t Width>
HEADCOUNT_VECTOR_CLONES void backward_blocks(const Step<T>& s, const T* x, const T* normalized, const T* rstd,
                                             const T* grad, const T* branch_grad, T* x_grad, T* update_grad,
                                             T* partials, int64_t first_block, int64_t last_block) {
  const int64_t d = Width > 0 ? Width : s.width;
  std::vector<T> recovered(s.inverse_gamma ? static_cast<size_t>(d) : 0);
  std::vector<T> summed(grad && branch_grad ? static_cast<size_t>(d) : 0);
  for (int64_t block = first_block; block < last_block; ++block) {
    T* gamma_grad = partials + block * 3 * d;
    T* beta_grad = gamma_grad + d;
    T* weight_grad = beta_grad + d;
    std::fill(gamma_grad, gamma_grad + 3 * d, T(0));
    const int64_t row_end = std::min(s.rows, (block + 1) * kRowsPerBlock);
    for (int64_t r = block * kRowsPerBlock; r < row_end; ++r) {
      const int64_t base = r * d;
      T* sum_grad = update_grad + base;  // the sum's gradient, masked in place below
      const T* g = grad ? grad + base : branch_grad + base;
      if (grad && branch_grad) g = add_row_pair(grad + base, branch_grad + base, d, summed.data());
      if (s.normalizes()) {
        const T* n = normalized + base;
        if (s.inverse_gamma) n = recover_normalized_row(n, s.beta, s.inverse_gamma, d, recovered.data());
        normalize_row_backward(g, n, s.gamma, rstd[r], d, sum_grad, gamma_grad, beta_grad);
      }
      else
        std::copy(g, g + d, sum_grad);
      weight_row_backward(sum_grad, s.weight, x ? x + base : nullptr, d, x_grad + base, weight_grad);
      if (s.drop) mask_row(sum_grad, d, s.mask, s.keep_scale, base);
    }
  }
}

template <typename T>
void residual_backward(const Step<T>& s, const T* x, const T* normalized, const T* rstd, const T* grad,
                       const T* branch_grad, T* x_grad, T* update_grad, T* partials) {
  const int64_t blocks = (s.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, s.width * kRowsPerBlock));
  with_width(s.width, [&](auto width) {
    at::parallel_for(0, blocks, grain, [&](int64_t first_block, int64_t last_block) {
      backward_blocks<T, decltype(width)::value>(s, x, normalized, rstd, grad, branch_grad, x_grad, update_grad,
                                                 partials, first_block, last_block);
    });
  });
}

template <typename T>
Step<T> step_of(int64_t rows, int64_t width, const T* weight, const torch::Tensor& gamma, const torch::Tensor& beta,
                double eps, double dropout, int64_t seed) {
  const bool normalizes = gamma.defined() && gamma.numel() > 0;
  return {rows,
          width,
          weight,
          normalizes ? gamma.data_ptr<T>() : nullptr,
          normalizes ? beta.data_ptr<T>() : nullptr,
          nullptr,
          static_cast<T>(eps),
          DropoutMask(static_cast<uint64_t>(seed), dropout),
          dropout > 0,
          dropout > 0 ? static_cast<T>(1.0 / (1.0 - dropout)) : T(1)};
}

// w's row: the learned one, or alpha repeated into `repeated` (no tensor, no operator).
template <typename T>
const T* weight_row(const torch::Tensor& weight, double alpha, int64_t width, std::vector<T>& repeated) {
  if (weight.defined() && weight.numel() > 0) return weight.data_ptr<T>();
  repeated.assign(static_cast<size_t>(width), static_cast<T>(alpha));
  return repeated.data();
}

struct Forward {
  torch::Tensor out, normalized, rstd;  // the last two only when kept for backward with a LayerNorm
  // normalized left out: backward recovers it from out (normalized_recoverable).
  bool normalized_from_output = false;
};

// Whether backward may recover the normalized rows from the output, n = (out - beta) / gamma,
// instead of keeping them: a LayerNorm's output is kept anyway (it is the next product's
// input), so the forward writes one tensor instead of two and the step keeps no
// activation of its own, as Apex's memory-efficient LayerNorm does. out's rounding error
// (half an ulp of |gamma n + beta|) becomes about (|n| + |beta / gamma|) ulps in the recovered
// n, so only where every |beta| <= 16 |gamma| (and gamma is a normal nonzero number)
// is the error within a few ulps of what keeping n gives; otherwise n is kept.
template <typename T>
bool normalized_recoverable(const T* gamma, const T* beta, int64_t width) {
  for (int64_t j = 0; j < width; ++j) {
    const T g = std::abs(gamma[j]);
    if (!(g >= std::numeric_limits<T>::min() && std::abs(beta[j]) <= 16 * g)) return false;  // false for NaN too
  }
  return true;
}

// The forward pass on contiguous tensors; weight, gamma and beta undefined or empty for none.
Forward run_forward(const torch::Tensor& x, const torch::Tensor& update, const torch::Tensor& weight,
                    const torch::Tensor& gamma, const torch::Tensor& beta, double alpha, double dropout, int64_t seed,
                    double eps, bool keeps_for_backward) {
  const int64_t width = x.size(-1), rows = width > 0 ? x.numel() / width : 0;
  const bool normalizes = gamma.defined() && gamma.numel() > 0;
  const bool keeps = normalizes && keeps_for_backward;
  Forward f;
  f.out = torch::empty(x.sizes(), x.options());
  if (keeps) f.rstd = torch::empty({rows}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "residual_step", [&] {
    if (keeps) {
      f.normalized_from_output = normalized_recoverable(gamma.data_ptr<scalar_t>(), beta.data_ptr<scalar_t>(), width);
      if (!f.normalized_from_output) f.normalized = torch::empty(x.sizes(), x.options());
    }
    std::vector<scalar_t> repeated;
    const auto s = step_of<scalar_t>(rows, width, weight_row(weight, alpha, width, repeated), gamma, beta, eps,
                                     dropout, seed);
    residual_forward<scalar_t>(s, x.data_ptr<scalar_t>(), update.data_ptr<scalar_t>(), f.out.data_ptr<scalar_t>(),
                               f.normalized.defined() ? f.normalized.data_ptr<scalar_t>() : nullptr,
                               keeps ? f.rstd.data_ptr<scalar_t>() : nullptr);
  });
  return f;
}

// Autograd functions take no undefined tensors: an empty weight stands for alpha, an empty
// gamma (and beta) for no LayerNorm.
// Two outputs, the step's result and a view of it (ResidualStream): their gradients reach
// backward apart and are summed row by row as it reads them.
class ResidualFunction : public torch::autograd::Function<ResidualFunction> {
 public:
  static variable_list forward(AutogradContext* context, torch::Tensor x, torch::Tensor update, torch::Tensor weight,
                               torch::Tensor gamma, torch::Tensor beta, double alpha, double dropout, int64_t seed,
                               double eps) {
    // An output nobody differentiates through gets an undefined gradient, not zeros.
    context->set_materialize_grads(false);
    x = x.contiguous();
    weight = weight.contiguous();
    gamma = gamma.contiguous();
    beta = beta.contiguous();
    auto f = run_forward(x, update.contiguous(), weight, gamma, beta, alpha, dropout, seed, eps, true);
    const auto none = torch::empty({0}, x.options());
    // x is needed only for w's gradient.
    const bool learned = weight.numel() > 0;
    // The normalized rows, or the output they are recovered from (an output is saved
    // without a reference cycle: LibTorch keeps its grad_fn weakly).
    const auto& normalized = f.normalized_from_output ? f.out : f.normalized;
    context->save_for_backward({learned ? x : none, weight, gamma, beta, normalized.defined() ? normalized : none,
                                f.rstd.defined() ? f.rstd : none});
    context->saved_data["normalized_from_output"] = f.normalized_from_output;
    context->saved_data["alpha"] = alpha;
    context->saved_data["dropout"] = dropout;
    context->saved_data["seed"] = seed;
    context->saved_data["eps"] = eps;
    auto branch = f.out.alias();
    return {f.out, branch};
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto& gamma = saved[2];
    const auto& beta = saved[3];
    const auto& normalized = saved[4];  // or the output (normalized_from_output)
    const auto& rstd = saved[5];
    const bool learned = weight.numel() > 0;
    const bool normalizes = gamma.numel() > 0;
    auto contiguous = [](const torch::Tensor& t) { return t.defined() ? t.contiguous() : t; };
    const auto grad = contiguous(grad_outputs[0]), branch_grad = contiguous(grad_outputs[1]);
    if (!grad.defined() && !branch_grad.defined()) return variable_list(9);
    const auto& shape = grad.defined() ? grad : branch_grad;
    const int64_t width = shape.size(-1), rows = width > 0 ? shape.numel() / width : 0;
    const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
    auto x_grad = torch::empty(shape.sizes(), shape.options());
    auto update_grad = torch::empty(shape.sizes(), shape.options());
    auto partials = torch::empty({blocks, 3, width}, shape.options());  // each block zeroes its own
    // gamma's, beta's and w's gradients, apart: returned as they are, with no view to take.
    const auto total_of = [&](bool wanted) { return wanted ? torch::empty({width}, shape.options()) : torch::Tensor(); };
    const torch::Tensor totals[3] = {total_of(normalizes), total_of(normalizes), total_of(learned)};
    AT_DISPATCH_FLOATING_TYPES(shape.scalar_type(), "residual_step_backward", [&] {
      std::vector<scalar_t> repeated;
      const auto w = weight_row(weight, context->saved_data["alpha"].toDouble(), width, repeated);
      auto s = step_of<scalar_t>(rows, width, w, gamma, beta, context->saved_data["eps"].toDouble(),
                                 context->saved_data["dropout"].toDouble(), context->saved_data["seed"].toInt());
      std::vector<scalar_t> inverse_gamma;
      if (context->saved_data["normalized_from_output"].toBool()) {
        for (int64_t j = 0; j < width; ++j) inverse_gamma.push_back(scalar_t(1) / s.gamma[j]);
        s.inverse_gamma = inverse_gamma.data();
      }
      residual_backward<scalar_t>(s, learned ? x.data_ptr<scalar_t>() : nullptr, normalizes ? normalized.data_ptr<scalar_t>() : nullptr,
                                  normalizes ? rstd.data_ptr<scalar_t>() : nullptr,
                                  grad.defined() ? grad.data_ptr<scalar_t>() : nullptr,
                                  branch_grad.defined() ? branch_grad.data_ptr<scalar_t>() : nullptr,
                                  x_grad.data_ptr<scalar_t>(), update_grad.data_ptr<scalar_t>(),
                                  partials.data_ptr<scalar_t>());
      // The blocks' partial sums, in block order.
      const scalar_t* partial = partials.data_ptr<scalar_t>();
      for (int64_t part = 0; part < 3; ++part) {
        if (!totals[part].defined()) continue;
        scalar_t* total = totals[part].data_ptr<scalar_t>();
        std::fill(total, total + width, scalar_t(0));
        for (int64_t block = 0; block < blocks; ++block)
          for (int64_t j = 0; j < width; ++j) total[j] += partial[(block * 3 + part) * width + j];
      }
    });
    return {x_grad,
            update_grad,
            totals[2],
            totals[0],
            totals[1],
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

bool residual_kernel_applies(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& o) {
  const auto type = x.scalar_type();
  auto same_type = [&](const torch::Tensor& t) { return !t.defined() || (t.scalar_type() == type && t.device().is_cpu()); };
  return x.device().is_cpu() && update.device().is_cpu() && (type == torch::kFloat || type == torch::kDouble) &&
         x.dim() >= 1 && x.sizes() == update.sizes() && o.dropout < 1 && same_type(o.weight) && same_type(o.gamma) &&
         same_type(o.beta) && o.gamma.defined() == o.beta.defined();
}

ResidualStream residual_kernel(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& o,
                               uint64_t seed_in) {
  const auto seed = static_cast<int64_t>(seed_in);
  auto wants_gradient = [](const torch::Tensor& t) { return t.defined() && t.requires_grad(); };
  const bool differentiated = torch::GradMode::is_enabled() &&
                              (wants_gradient(x) || wants_gradient(update) || wants_gradient(o.weight) ||
                               wants_gradient(o.gamma) || wants_gradient(o.beta));
  if (!differentiated) {
    // Decoding and evaluation: no autograd node, nothing kept; at batch 1 the per-call
    // overhead is most of the cost.
    auto contiguous = [](const torch::Tensor& t) { return t.defined() ? t.contiguous() : t; };
    return ResidualStream(run_forward(x.contiguous(), update.contiguous(), contiguous(o.weight), contiguous(o.gamma),
                                      contiguous(o.beta), o.alpha, o.dropout, seed, o.eps, false)
                              .out);
  }
  const auto none = torch::empty({0}, x.options());
  auto stand_in = [&](const torch::Tensor& t) { return t.defined() ? t : none; };
  const auto outputs = ResidualFunction::apply(x, update, stand_in(o.weight), stand_in(o.gamma), stand_in(o.beta),
                                               o.alpha, o.dropout, seed, o.eps);
  return {outputs[0], outputs[1]};
}

}  // namespace headcount
