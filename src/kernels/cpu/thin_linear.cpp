#include "kernels/cpu/thin_linear.h"

#include <ATen/Parallel.h>

#include "runtime/autocast.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

// Outputs [begin, end) of every row: the weight row o stays in cache across the rows.
HEADCOUNT_VECTOR_CLONES void product_rows(const float* x, int64_t rows, const float* weight, const float* bias,
                                          float* y, int64_t in, int64_t out, int64_t begin, int64_t end) {
  for (int64_t o = begin; o < end; ++o) {
    const float* w = weight + o * in;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * in;
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < in; ++i) sum += w[i] * xr[i];
      y[r * out + o] = bias ? sum + bias[o] : sum;
    }
  }
}

}  // namespace

bool float_cpu_contiguous(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
}

bool product_wants_gradient(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  return torch::GradMode::is_enabled() &&
         (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
}

bool thin_linear_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!float_cpu_contiguous(x) || !float_cpu_contiguous(weight) || weight.dim() != 2) return false;
  if (bias.defined() && (!float_cpu_contiguous(bias) || bias.dim() != 1 || bias.size(0) != weight.size(0)))
    return false;
  const int64_t in = weight.size(1);
  if (x.dim() < 1 || x.size(-1) != in || in == 0 || x.numel() / in > kThinLinearMaxRows) return false;
  if (cpu_autocast_enabled()) return false;  // the product is autocast's to type
  return !product_wants_gradient(x, weight, bias);
}

torch::Tensor thin_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(thin_linear_applies(x, weight, bias), "thin_linear: shapes, types or autograd state it does not take");
  const int64_t in = weight.size(1), out = weight.size(0), rows = x.numel() / in;
  auto sizes = x.sizes().vec();
  sizes.back() = out;
  auto y = torch::empty(sizes, x.options());
  thin_linear_rows(x.data_ptr<float>(), rows, weight.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                   y.data_ptr<float>(), in, out);
  return y;
}

void thin_linear_rows(const float* x, int64_t rows, const float* weight, const float* bias, float* y, int64_t in,
                      int64_t out) {
  // Threads only for products big enough to pay for waking them (about 32k multiply-adds
  // a chunk); the demo's projections run in the calling thread.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, in * rows));
  at::parallel_for(0, out, grain, [&](int64_t begin, int64_t end) { product_rows(x, rows, weight, bias, y, in, out, begin, end); });
}

}  // namespace headcount
