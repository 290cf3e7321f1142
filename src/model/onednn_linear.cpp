#include "model/onednn_linear.h"

#if defined(HEADCOUNT_WITH_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <ATen/Parallel.h>

#include <algorithm>

#include "model/thin_linear.h"
#include "runtime/autocast.h"
#include "util/vector_clones.h"

namespace headcount {

#if defined(HEADCOUNT_WITH_ONEDNN)

namespace {

using Tag = dnnl::memory::format_tag;

// The CPU as oneDNN sees it. An engine is an immutable handle, safe to share between
// threads; the stream, which orders the work of one thread, is made per product.
const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// t as a matrix oneDNN reads in place: rows or columns contiguous (a transposed view is
// fine), anything else copied first.
torch::Tensor dense_matrix(const torch::Tensor& t) {
  const bool rows_dense = t.stride(1) == 1 && t.stride(0) >= t.size(1);
  const bool columns_dense = t.stride(0) == 1 && t.stride(1) >= t.size(0);
  return rows_dense || columns_dense ? t : t.contiguous();
}

dnnl::memory::desc matrix_desc(const torch::Tensor& t) {
  return dnnl::memory::desc({t.size(0), t.size(1)}, dnnl::memory::data_type::f32, {t.stride(0), t.stride(1)});
}

// out [m, n] = a [m, k] b [k, n] (+ bias [n]), out contiguous. oneDNN keeps the
// primitives it made in a cache keyed by the shapes, so asking again is a lookup.
void product(const torch::Tensor& a_in, const torch::Tensor& b_in, const torch::Tensor& bias, const torch::Tensor& out) {
  const auto a = dense_matrix(a_in), b = dense_matrix(b_in);
  const auto& engine = cpu_engine();
  const auto a_desc = matrix_desc(a), b_desc = matrix_desc(b), out_desc = matrix_desc(out);
  std::unordered_map<int, dnnl::memory> arguments{
      {DNNL_ARG_SRC, dnnl::memory(a_desc, engine, a.data_ptr<float>())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(b_desc, engine, b.data_ptr<float>())},
      {DNNL_ARG_DST, dnnl::memory(out_desc, engine, out.data_ptr<float>())}};
  // An undefined bias is a zero memory descriptor, which oneDNN reads as "no bias".
  dnnl::memory::desc bias_desc;
  if (bias.defined()) {
    bias_desc = dnnl::memory::desc({1, bias.size(0)}, dnnl::memory::data_type::f32, Tag::ab);
    arguments.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_desc, engine, bias.data_ptr<float>()));
  }
#if DNNL_VERSION_MAJOR >= 3  // 3.0 dropped the operation descriptors
  const dnnl::matmul::primitive_desc description(engine, a_desc, b_desc, bias_desc, out_desc);
#else
  const dnnl::matmul::primitive_desc description(dnnl::matmul::desc(a_desc, b_desc, bias_desc, out_desc), engine);
#endif
  dnnl::stream stream(engine);
  dnnl::matmul(description).execute(stream, arguments);
  stream.wait();
}

// rows [m, in] weight^T (+ bias) -> [..., out] with the leading sizes of x. The product
// writes through a [m, out] view of a tensor made for the result, so the result is no
// view: in-place operations on it are allowed, as on torch::linear's.
torch::Tensor forward_product(const torch::Tensor& rows, c10::IntArrayRef x_sizes, const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  auto sizes = x_sizes.vec();
  sizes.back() = weight.size(0);
  auto y = torch::empty(sizes, rows.options());
  product(rows, weight.t(), bias, y.view({rows.size(0), weight.size(0)}));
  return y;
}

// A weight gradient gradient^T rows sums over all the batch's rows, into a small matrix
// (64 x 64 in the demo's deep model). oneDNN 2.6 shares a product among threads by blocks
// of its result, so such a product ran on one thread while the other waited: 0.125 ms on
// one thread, 0.138 ms on two (docs/benchmarks.md, "Weight gradients split by rows").
// Up to this many elements the rows are split into one share per thread instead, each
// summed into a partial of its own by a one-thread product (at d 512, 192 x 512 and
// 256 x 512 results too ran at 60-70% of two threads' speed); larger results have blocks
// enough for every thread, and their partials would cost memory.
constexpr int64_t kSplitWeightGradientMaxElements = 512 * 512;
// The fewest rows a share takes: fewer, and a product call costs more than it sums.
constexpr int64_t kMinRowsPerShare = 256;

int64_t weight_gradient_shares(int64_t rows, int64_t elements) {
  if (elements > kSplitWeightGradientMaxElements) return 1;
  return std::clamp<int64_t>(rows / kMinRowsPerShare, 1, at::get_num_threads());
}

// sums[j] += the column sums of rows [count, width], row after row.
HEADCOUNT_VECTOR_CLONES void add_column_sums(const float* rows, int64_t count, int64_t width, float* sums) {
  for (int64_t r = 0; r < count; ++r) {
    const float* __restrict row = rows + r * width;
    float* __restrict target = sums;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) target[j] += row[j];
  }
}

// weight_gradient [out, in] = gradient^T [out, m] rows [m, in], and the bias gradient, the
// column sums of gradient, where bias_gradient is given. Split into shares of rows where
// weight_gradient_shares says so, their partials added in share order: the same thread
// count gives the same sums, bit for bit, another may differ in the last bits (as the
// BLAS's and oneDNN's own blockings do).
void weight_and_bias_gradients(const torch::Tensor& gradient, const torch::Tensor& rows,
                               const torch::Tensor& weight_gradient, torch::Tensor* bias_gradient) {
  const int64_t m = rows.size(0), out = weight_gradient.size(0), in = weight_gradient.size(1);
  const int64_t shares = weight_gradient_shares(m, out * in);
  if (shares == 1) {
    product(gradient.t(), rows, {}, weight_gradient);
    if (bias_gradient) *bias_gradient = gradient.sum(0);
    return;
  }
  const auto g = gradient.contiguous();
  const auto partials = torch::empty({shares - 1, out, in}, weight_gradient.options());
  const auto column_sums = torch::zeros({shares, out}, weight_gradient.options());
  // Inside this parallel region oneDNN runs each product on the calling thread.
  at::parallel_for(0, shares, 1, [&](int64_t first, int64_t last) {
    for (int64_t s = first; s < last; ++s) {
      const int64_t begin = m * s / shares, count = m * (s + 1) / shares - begin;
      const auto share = g.narrow(0, begin, count);
      product(share.t(), rows.narrow(0, begin, count), {}, s == 0 ? weight_gradient : partials[s - 1]);
      if (bias_gradient) add_column_sums(share.data_ptr<float>(), count, out, column_sums[s].data_ptr<float>());
    }
  });
  // The partials added element by element in share order, the elements shared out.
  float* total = weight_gradient.data_ptr<float>();
  const float* partial = partials.data_ptr<float>();
  at::parallel_for(0, out * in, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t s = 1; s < shares; ++s)
      add_column_sums(partial + (s - 1) * out * in + begin, 1, end - begin, total + begin);
  });
  if (!bias_gradient) return;
  *bias_gradient = torch::zeros({out}, weight_gradient.options());
  add_column_sums(column_sums.data_ptr<float>(), shares, out, bias_gradient->data_ptr<float>());
}

struct OneDnnLinearFunction : torch::autograd::Function<OneDnnLinearFunction> {
  // The bias as an optional: autograd registers an input only when it holds a tensor.
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& x,
                               const torch::Tensor& weight, const c10::optional<torch::Tensor>& bias) {
    const auto rows = x.reshape({-1, weight.size(1)});
    context->save_for_backward({rows, weight});
    context->saved_data["input_sizes"] = x.sizes().vec();
    context->saved_data["has_bias"] = bias.has_value();
    return forward_product(rows, x.sizes(), weight, bias ? bias->contiguous() : torch::Tensor());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* context,
                                               torch::autograd::tensor_list gradients) {
    const auto saved = context->get_saved_variables();
    const auto& rows = saved[0];
    const auto& weight = saved[1];
    const auto gradient = gradients[0].reshape({-1, weight.size(0)});
    torch::Tensor input_gradient, weight_gradient, bias_gradient;
    if (context->needs_input_grad(0)) {
      input_gradient = torch::empty(context->saved_data["input_sizes"].toIntVector(), rows.options());
      product(gradient, weight, {}, input_gradient.view({rows.size(0), weight.size(1)}));
    }
    const bool wants_bias = context->saved_data["has_bias"].toBool() && context->needs_input_grad(2);
    if (context->needs_input_grad(1)) {
      weight_gradient = torch::empty_like(weight, torch::MemoryFormat::Contiguous);
      weight_and_bias_gradients(gradient, rows, weight_gradient, wants_bias ? &bias_gradient : nullptr);
    } else if (wants_bias) {
      bias_gradient = gradient.sum(0);
    }
    return {input_gradient, weight_gradient, bias_gradient};
  }
};

bool float_cpu(const torch::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == torch::kFloat; }

}  // namespace

bool onednn_products_built() { return true; }

bool onednn_linear_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!x.defined() || !weight.defined() || !float_cpu(x) || !float_cpu(weight) || weight.dim() != 2) return false;
  if (bias.defined() && (!float_cpu(bias) || bias.dim() != 1 || bias.size(0) != weight.size(0))) return false;
  if (x.dim() < 1 || x.size(-1) != weight.size(1) || x.numel() == 0 || weight.numel() == 0) return false;
  return !cpu_autocast_enabled();  // under autocast the product is autocast's to type
}

torch::Tensor onednn_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(onednn_linear_applies(x, weight, bias), "onednn_linear: shapes, types or autocast state it does not take");
  if (product_wants_gradient(x, weight, bias))
    return OneDnnLinearFunction::apply(x, weight, bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt);
  // Inference (evaluation, batched decoding): no autograd node, nothing saved.
  const auto rows = x.reshape({-1, weight.size(1)});
  return forward_product(rows, x.sizes(), weight, bias.defined() ? bias.contiguous() : bias);
}

#else  // built without oneDNN's headers: model/linear.h keeps torch::linear

bool onednn_products_built() { return false; }
bool onednn_linear_applies(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return false; }
torch::Tensor onednn_linear(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
  TORCH_CHECK(false, "onednn_linear: this headcount was built without oneDNN (Debian: libdnnl-dev)");
}

#endif

}  // namespace headcount
