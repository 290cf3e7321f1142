#include "kernels/cpu/onednn_product.h"

#if defined(HEADCOUNT_WITH_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "util/vector_clones.h"

namespace headcount {

namespace {

// t as a matrix oneDNN reads in place: rows or columns dense (a transposed view is fine),
// anything else copied first.
torch::Tensor dense_matrix(const torch::Tensor& t) {
  const bool rows_dense = t.stride(1) == 1 && t.stride(0) >= t.size(1);
  const bool columns_dense = t.stride(0) == 1 && t.stride(1) >= t.size(0);
  return rows_dense || columns_dense ? t : t.contiguous();
}

}  // namespace

#if defined(HEADCOUNT_WITH_ONEDNN)

namespace {

// The CPU as oneDNN sees it. An engine is an immutable handle, safe to share between
// threads; the stream, which orders the work of one thread, is made per product.
const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc matrix_desc(const MatrixView& m) {
  return dnnl::memory::desc({m.rows, m.columns}, dnnl::memory::data_type::f32, {m.row_stride, m.column_stride});
}

// The matrix-product primitives this thread has made, by shape and layout. Choosing and
// setting up a product's kernel (its primitive descriptor) takes microseconds, and oneDNN
// caches the kernels it compiled, not that choice; a deep model asks for the same few
// shapes hundreds of times an update. One cache per thread: the weight-gradient shares make
// products on both threads at once, each set up for one thread, which the key tells apart.
class ProductPrimitives {
 public:
  // The primitive for a [m, k] x b [k, n] (+ bias) into out [m, n] (then ReLU), as
  // described by the tensors (sizes and strides) and their oneDNN descriptors.
  const dnnl::matmul& get(const MatrixView& a, const MatrixView& b, const MatrixView& out, bool relu,
                          const dnnl::memory::desc& a_desc, const dnnl::memory::desc& b_desc,
                          const dnnl::memory::desc& bias_desc, const dnnl::memory::desc& out_desc) {
    const Key key = key_of(a, b, out, !bias_desc.is_zero(), relu);
    const auto found = primitives_.find(key);
    if (found != primitives_.end()) return found->second;
    // Batches of other lengths bring other row counts; a bound keeps a long run's cache
    // small, and emptying it costs one set-up per shape, as every call cost without it.
    if (primitives_.size() >= kCapacity) primitives_.clear();
    dnnl::primitive_attr attributes;
    if (relu) {
      dnnl::post_ops operations;
#if DNNL_VERSION_MAJOR >= 3  // 3.0 dropped the post-operation's scale
      operations.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
#else
      operations.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
#endif
      attributes.set_post_ops(operations);
    }
    const auto& engine = cpu_engine();
#if DNNL_VERSION_MAJOR >= 3  // 3.0 dropped the operation descriptors
    const dnnl::matmul::primitive_desc description(engine, a_desc, b_desc, bias_desc, out_desc, attributes);
#else
    const dnnl::matmul::primitive_desc description(dnnl::matmul::desc(a_desc, b_desc, bias_desc, out_desc),
                                                   attributes, engine);
#endif
    return primitives_.emplace(key, dnnl::matmul(description)).first->second;
  }

 private:
  using Key = std::array<int64_t, 15>;
  static constexpr size_t kCapacity = 512;

  struct KeyHash {
    size_t operator()(const Key& key) const {
      size_t h = 0;
      for (const int64_t v : key) h = h * 1000003u ^ static_cast<size_t>(v);
      return h;
    }
  };

  // Sizes and strides of the three matrices (a bias is always [1, n], dense), bias and
  // ReLU or not, and the threads a product set up here would use.
  static Key key_of(const MatrixView& a, const MatrixView& b, const MatrixView& out, bool bias, bool relu) {
    Key key{};
    size_t i = 0;
    for (const auto* m : {&a, &b, &out}) {
      key[i++] = m->rows, key[i++] = m->columns, key[i++] = m->row_stride, key[i++] = m->column_stride;
    }
    key[i++] = bias;
    key[i++] = relu;
    key[i++] = at::in_parallel_region() ? 1 : at::get_num_threads();
    return key;
  }

  std::unordered_map<Key, dnnl::matmul, KeyHash> primitives_;
};

}  // namespace

bool onednn_products_built() { return true; }

void onednn_product(const MatrixView& a, const MatrixView& b, const float* bias, const MatrixView& out, bool relu) {
  thread_local ProductPrimitives primitives;
  const auto& engine = cpu_engine();
  const auto a_desc = matrix_desc(a), b_desc = matrix_desc(b), out_desc = matrix_desc(out);
  std::unordered_map<int, dnnl::memory> arguments{{DNNL_ARG_SRC, dnnl::memory(a_desc, engine, a.data)},
                                                  {DNNL_ARG_WEIGHTS, dnnl::memory(b_desc, engine, b.data)},
                                                  {DNNL_ARG_DST, dnnl::memory(out_desc, engine, out.data)}};
  // No bias is a zero memory descriptor, which oneDNN reads as "no bias".
  dnnl::memory::desc bias_desc;
  if (bias) {
    bias_desc = dnnl::memory::desc({1, out.columns}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
    arguments.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_desc, engine, const_cast<float*>(bias)));
  }
  dnnl::stream stream(engine);
  primitives.get(a, b, out, relu, a_desc, b_desc, bias_desc, out_desc).execute(stream, arguments);
  stream.wait();
}

#else  // built without oneDNN's headers: the callers keep torch::linear

bool onednn_products_built() { return false; }
void onednn_product(const MatrixView&, const MatrixView&, const float*, const MatrixView&, bool) {
  TORCH_CHECK(false, "onednn_product: this headcount was built without oneDNN (Debian: libdnnl-dev)");
}

#endif

void onednn_product(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias,
                    const torch::Tensor& out, bool relu) {
  const auto a_dense = dense_matrix(a), b_dense = dense_matrix(b);
  onednn_product(matrix_view(a_dense), matrix_view(b_dense), bias.defined() ? bias.data_ptr<float>() : nullptr,
                 matrix_view(out), relu);
}

int64_t weight_gradient_shares(int64_t rows, int64_t weight_elements) {
  constexpr int64_t kSplitMaxElements = 512 * 512, kMinRowsPerShare = 256;
  if (weight_elements > kSplitMaxElements) return 1;
  return std::clamp<int64_t>(rows / kMinRowsPerShare, 1, at::get_num_threads());
}

HEADCOUNT_VECTOR_CLONES void add_column_sums(const float* rows, int64_t count, int64_t width, float* sums) {
  for (int64_t r = 0; r < count; ++r) {
    const float* __restrict row = rows + r * width;
    float* __restrict target = sums;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) target[j] += row[j];
  }
}

MatrixView matrix_view(const torch::Tensor& t) {
  TORCH_CHECK(t.dim() == 2 && t.device().is_cpu() && t.scalar_type() == torch::kFloat,
              "matrix_view: a 2-D CPU float32 tensor, not ", t.sizes(), " ", t.scalar_type());
  return {t.data_ptr<float>(), t.size(0), t.size(1), t.stride(0), t.stride(1)};
}

WeightGradientShares::WeightGradientShares(int64_t shares, const torch::Tensor& weight_gradient, bool with_bias)
    : shares_(shares),
      out_(weight_gradient.size(0)),
      in_(weight_gradient.size(1)),
      with_bias_(with_bias),
      weight_gradient_(weight_gradient),
      scratch_(torch::empty({(shares - 1) * out_ * in_ + (with_bias ? shares * out_ : 0)}, weight_gradient.options())) {
  TORCH_CHECK(weight_gradient.is_contiguous(), "WeightGradientShares: the weight gradient must be contiguous");
}

void WeightGradientShares::sum_share(int64_t s, const MatrixView& gradient, const MatrixView& rows) {
  float* partial = s == 0 ? weight_gradient_.data_ptr<float>() : scratch_.data_ptr<float>() + (s - 1) * out_ * in_;
  onednn_product(gradient.transposed(), rows, nullptr, MatrixView{partial, out_, in_, in_, 1});
  if (!with_bias_) return;
  float* sums = scratch_.data_ptr<float>() + (shares_ - 1) * out_ * in_ + s * out_;
  std::fill(sums, sums + out_, 0.f);
  for (int64_t r = 0; r < gradient.rows; ++r) add_column_sums(gradient.data + r * gradient.row_stride, 1, out_, sums);
}

torch::Tensor WeightGradientShares::finish() {
  // The partials added element by element in share order, the elements shared out.
  const int64_t elements = out_ * in_;
  float* total = weight_gradient_.data_ptr<float>();
  const float* partial = scratch_.data_ptr<float>();
  at::parallel_for(0, elements, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t s = 1; s < shares_; ++s) add_column_sums(partial + (s - 1) * elements + begin, 1, end - begin, total + begin);
  });
  if (!with_bias_) return {};
  auto bias_gradient = torch::empty({out_}, weight_gradient_.options());
  const float* sums = partial + (shares_ - 1) * elements;
  std::copy(sums, sums + out_, bias_gradient.data_ptr<float>());
  add_column_sums(sums + out_, shares_ - 1, out_, bias_gradient.data_ptr<float>());
  return bias_gradient;
}

void onednn_weight_gradient(const torch::Tensor& gradient, const torch::Tensor& rows,
                            const torch::Tensor& weight_gradient, torch::Tensor* bias_gradient) {
  const int64_t m = rows.size(0);
  const int64_t shares = weight_gradient_shares(m, weight_gradient.numel());
  if (shares == 1) {
    onednn_product(gradient.t(), rows, {}, weight_gradient);
    if (bias_gradient) *bias_gradient = gradient.sum(0);
    return;
  }
  const auto g = gradient.contiguous(), dense_rows = dense_matrix(rows);
  const auto g_view = matrix_view(g), rows_view = matrix_view(dense_rows);
  WeightGradientShares split(shares, weight_gradient, bias_gradient != nullptr);
  // Inside this parallel region oneDNN runs each product on the calling thread.
  at::parallel_for(0, shares, 1, [&](int64_t first, int64_t last) {
    for (int64_t s = first; s < last; ++s) {
      const auto [begin, count] = share_rows(m, shares, s);
      split.sum_share(s, g_view.row_block(begin, count), rows_view.row_block(begin, count));
    }
  });
  auto bias = split.finish();
  if (bias_gradient) *bias_gradient = std::move(bias);
}

}  // namespace headcount
