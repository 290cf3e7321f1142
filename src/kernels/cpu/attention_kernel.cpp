#include "kernels/cpu/attention_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dropout_mask.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y += alpha * x
template <typename T>
[[gnu::always_inline]] inline void add_scaled(T alpha, const T* x, T* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// One side's heads inside its rows tensor (see the header).
template <typename T>
struct Heads {
  T* data;
  int64_t batch_stride, position_stride, head_dim;
  T* at(int64_t b, int64_t h, int64_t position) const {
    return data + b * batch_stride + position * position_stride + h * head_dim;
  }
};

template <typename T>
Heads<T> heads_of(const torch::Tensor& rows, int64_t offset, int64_t head_dim) {
  return {rows.data_ptr<T>() + offset, rows.stride(0), rows.stride(1), head_dim};
}

// Columns a block of combine() holds in registers: one AVX-512 register, two AVX2 ones.
template <typename T>
constexpr int64_t kBlock = 64 / sizeof(T);

// positions rounded up to whole blocks, for the transposed copies below
template <typename T>
int64_t padded(int64_t positions) {
  return (positions + kBlock<T> - 1) / kBlock<T> * kBlock<T>;
}

// out[d * stride + s] = side.at(b, h, s)[d] for s < S; the columns S <= s < stride are
// never written, so they keep the zeros out was allocated with. One (sentence, head)'s keys
// or values with the positions innermost, so that a query's scores against all of them are
// a combine() along the positions instead of S dot products, each ending in a horizontal
// sum (a chain of scalar adds: the kernel's hot spot before).
template <typename T>
[[gnu::always_inline]] inline void transpose_positions(const Heads<T>& side, int64_t b, int64_t h, int64_t S,
                                                       int64_t D, int64_t stride, T* out) {
  for (int64_t s = 0; s < S; ++s) {
    const T* x = side.at(b, h, s);
    for (int64_t d = 0; d < D; ++d) out[d * stride + s] = x[d];
  }
}

// y[j] += sum over i < count of alpha[i] * x[i * stride + j], for j < n. The sums stay in
// registers a block of columns at a time: adding into y itself would chain every i
// through a store and a load of the same address.
template <typename T>
[[gnu::always_inline]] inline void combine(const T* alpha, const T* x, int64_t stride, int64_t count, T* y,
                                           int64_t n) {
  constexpr int64_t W = kBlock<T>;
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    T sum[W];
    for (int64_t w = 0; w < W; ++w) sum[w] = y[j + w];
    for (int64_t i = 0; i < count; ++i) {
      const T a = alpha[i];
      const T* row = x + i * stride + j;
#pragma omp simd
      for (int64_t w = 0; w < W; ++w) sum[w] += a * row[w];
    }
    for (int64_t w = 0; w < W; ++w) y[j + w] = sum[w];
  }
  for (int64_t i = 0; i < count && j < n; ++i) add_scaled(alpha[i], x + i * stride + j, y + j, n - j);
}

struct Sizes {
  int64_t batch, heads, head_dim, target_length, source_length;
};

// bias expanded to [B, H, T, S] (stride 0 where broadcast)
template <typename T>
struct Bias {
  const T* data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
  T at(int64_t b, int64_t h, int64_t t, int64_t s) const {
    return data ? data[b * stride[0] + h * stride[1] + t * stride[2] + s * stride[3]] : T(0);
  }
};

template <typename T>
Bias<T> bias_view(const torch::Tensor& bias, const Sizes& n) {
  Bias<T> view;
  if (!bias.defined()) return view;
  auto expanded = bias.expand({n.batch, n.heads, n.target_length, n.source_length});
  view.data = expanded.template data_ptr<T>();
  for (int i = 0; i < 4; ++i) view.stride[i] = expanded.stride(i);
  return view;
}

int64_t grain_for(const Sizes& n) {
  const int64_t work = std::max<int64_t>(1, n.target_length * n.source_length * n.head_dim);
  return std::max<int64_t>(1, 32768 / work);
}

// probabilities: [B, H, T, S] written (before dropout); context: [B, T, H*D] written; for
// the (sentence, head) pairs [begin, end). Built for AVX-512 and AVX2 beside the baseline
// (util/vector_clones.h).
template <typename T>
HEADCOUNT_VECTOR_CLONES void forward_heads(const Heads<T>& query, const Heads<T>& key, const Heads<T>& value,
                                           const Bias<T>& bias, const Sizes& n, double drop, uint64_t seed,
                                           T* probabilities, T* context, int64_t begin, int64_t end) {
  const T scale = T(1) / std::sqrt(static_cast<T>(n.head_dim));
  const T keep_scale = drop > 0 ? T(1.0 / (1.0 - drop)) : T(1);
  const DropoutMask mask(seed, drop);
  const int64_t inner = n.heads * n.head_dim, S = n.source_length, D = n.head_dim, P = padded<T>(S);
  std::vector<T> keys(static_cast<size_t>(D * P)), scores(static_cast<size_t>(P)), scaled_query(D), kept(S);
  for (int64_t bh = begin; bh < end; ++bh) {
    const int64_t b = bh / n.heads, h = bh % n.heads;
    transpose_positions(key, b, h, S, D, P, keys.data());
    for (int64_t t = 0; t < n.target_length; ++t) {
      const T* q = query.at(b, h, t);
      T* row = probabilities + (bh * n.target_length + t) * S;
      T* out = context + (b * n.target_length + t) * inner + h * n.head_dim;
      std::fill(scores.begin(), scores.end(), T(0));
      for (int64_t s = 0; s < S; ++s) scores[s] = bias.at(b, h, t, s);
      for (int64_t d = 0; d < D; ++d) scaled_query[d] = q[d] * scale;
      combine(scaled_query.data(), keys.data(), P, D, scores.data(), P);
      std::copy(scores.begin(), scores.begin() + S, row);
      T max_score = -std::numeric_limits<T>::infinity();
      for (int64_t s = 0; s < S; ++s) max_score = std::max(max_score, row[s]);
      std::fill(out, out + n.head_dim, T(0));
      if (max_score == -std::numeric_limits<T>::infinity()) {
        std::fill(row, row + S, T(0));
        continue;
      }
      T total = 0;
      for (int64_t s = 0; s < S; ++s) total += (row[s] = std::exp(row[s] - max_score));
      const T inverse = T(1) / total;
      for (int64_t s = 0; s < S; ++s) {
        row[s] *= inverse;
        kept[s] = row[s];
        if (drop > 0)
          kept[s] = mask.keep(static_cast<uint64_t>((bh * n.target_length + t) * S + s)) ? row[s] * keep_scale : T(0);
      }
      combine(kept.data(), value.at(b, h, 0), value.position_stride, S, out, D);
    }
  }
}

template <typename T>
void attention_forward(const Heads<T>& query, const Heads<T>& key, const Heads<T>& value, const Bias<T>& bias,
                       const Sizes& n, double drop, uint64_t seed, T* probabilities, T* context) {
  at::parallel_for(0, n.batch * n.heads, grain_for(n), [&](int64_t begin, int64_t end) {
    forward_heads(query, key, value, bias, n, drop, seed, probabilities, context, begin, end);
  });
}

// Gradients into query_grad / key_grad / value_grad, which start at zero; each (b, h)
// touches only its own columns, so the parallel loop needs no locks.
template <typename T>
HEADCOUNT_VECTOR_CLONES void backward_heads(const Heads<T>& query, const Heads<T>& key, const Heads<T>& value,
                                            const Sizes& n, double drop, uint64_t seed, const T* probabilities,
                                            const T* context_grad, const Heads<T>& query_grad,
                                            const Heads<T>& key_grad, const Heads<T>& value_grad, int64_t begin,
                                            int64_t end) {
  const T scale = T(1) / std::sqrt(static_cast<T>(n.head_dim));
  const T keep_scale = drop > 0 ? T(1.0 / (1.0 - drop)) : T(1);
  const DropoutMask mask(seed, drop);
  const int64_t inner = n.heads * n.head_dim, S = n.source_length, D = n.head_dim, P = padded<T>(S);
  std::vector<T> probability_grad(P), score_grad(S), values(static_cast<size_t>(D * P));
  for (int64_t bh = begin; bh < end; ++bh) {
    const int64_t b = bh / n.heads, h = bh % n.heads;
    transpose_positions(value, b, h, S, D, P, values.data());
    for (int64_t t = 0; t < n.target_length; ++t) {
      const T* row = probabilities + (bh * n.target_length + t) * S;
      const T* out_grad = context_grad + (b * n.target_length + t) * inner + h * n.head_dim;
      std::fill(probability_grad.begin(), probability_grad.end(), T(0));
      combine(out_grad, values.data(), P, D, probability_grad.data(), P);
      T row_dot = 0;
      for (int64_t s = 0; s < S; ++s) {
        T factor = T(1);
        if (drop > 0) factor = mask.keep(static_cast<uint64_t>((bh * n.target_length + t) * S + s)) ? keep_scale : T(0);
        const T dropped = row[s] * factor;
        if (dropped != T(0)) add_scaled(dropped, out_grad, value_grad.at(b, h, s), n.head_dim);
        probability_grad[s] = factor != T(0) ? probability_grad[s] * factor : T(0);
        row_dot += row[s] * probability_grad[s];
      }
      const T* q = query.at(b, h, t);
      for (int64_t s = 0; s < S; ++s) score_grad[s] = row[s] * (probability_grad[s] - row_dot) * scale;
      combine(score_grad.data(), key.at(b, h, 0), key.position_stride, S, query_grad.at(b, h, t), D);
      for (int64_t s = 0; s < S; ++s)
        if (score_grad[s] != T(0)) add_scaled(score_grad[s], q, key_grad.at(b, h, s), n.head_dim);
    }
  }
}

template <typename T>
void attention_backward(const Heads<T>& query, const Heads<T>& key, const Heads<T>& value, const Sizes& n,
                        double drop, uint64_t seed, const T* probabilities, const T* context_grad,
                        const Heads<T>& query_grad, const Heads<T>& key_grad, const Heads<T>& value_grad) {
  at::parallel_for(0, n.batch * n.heads, grain_for(n), [&](int64_t begin, int64_t end) {
    backward_heads(query, key, value, n, drop, seed, probabilities, context_grad, query_grad, key_grad, value_grad,
                   begin, end);
  });
}

Sizes sizes_of(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows, const AttentionShape& shape) {
  return {query_rows.size(0), shape.heads, shape.head_dim, query_rows.size(1), key_value_rows.size(1)};
}

torch::Tensor unit_last_stride(const torch::Tensor& rows) {
  return rows.stride(2) == 1 ? rows : rows.contiguous();
}

class AttentionFunction : public torch::autograd::Function<AttentionFunction> {
 public:
  // Autograd functions take no undefined tensors: an empty key_value_rows stands for
  // self-attention (keys and values are in query_rows), an empty bias for none.
  static torch::Tensor forward(AutogradContext* context, torch::Tensor query_rows, torch::Tensor key_value_rows,
                               torch::Tensor bias, int64_t heads, int64_t head_dim, int64_t query_offset,
                               int64_t key_offset, int64_t value_offset, double drop, int64_t seed) {
    query_rows = unit_last_stride(query_rows);
    const bool shared = key_value_rows.numel() == 0;
    if (!shared) key_value_rows = unit_last_stride(key_value_rows);
    if (bias.numel() == 0) bias = torch::Tensor();
    const auto& kv = shared ? query_rows : key_value_rows;
    const AttentionShape shape{heads, head_dim, query_offset, key_offset, value_offset};
    const Sizes n = sizes_of(query_rows, kv, shape);
    auto options = query_rows.options();
    auto probabilities = torch::empty({n.batch, n.heads, n.target_length, n.source_length}, options);
    auto result = torch::empty({n.batch, n.target_length, n.heads * n.head_dim}, options);
    AT_DISPATCH_FLOATING_TYPES(query_rows.scalar_type(), "scaled_dot_product_attention", [&] {
      attention_forward<scalar_t>(heads_of<scalar_t>(query_rows, query_offset, head_dim),
                                  heads_of<scalar_t>(kv, key_offset, head_dim),
                                  heads_of<scalar_t>(kv, value_offset, head_dim), bias_view<scalar_t>(bias, n), n, drop,
                                  static_cast<uint64_t>(seed), probabilities.data_ptr<scalar_t>(),
                                  result.data_ptr<scalar_t>());
    });
    context->save_for_backward({query_rows, key_value_rows, probabilities});
    context->saved_data["shape"] = std::vector<int64_t>{heads, head_dim, query_offset, key_offset, value_offset, seed};
    context->saved_data["drop"] = drop;
    return result;
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    auto saved = context->get_saved_variables();
    const auto& query_rows = saved[0];
    const auto& key_value_rows = saved[1];
    const auto& probabilities = saved[2];
    const bool shared = key_value_rows.numel() == 0;
    const auto& kv = shared ? query_rows : key_value_rows;
    const auto v = context->saved_data["shape"].toIntVector();
    const AttentionShape shape{v[0], v[1], v[2], v[3], v[4]};
    const uint64_t seed = static_cast<uint64_t>(v[5]);
    const double drop = context->saved_data["drop"].toDouble();
    const Sizes n = sizes_of(query_rows, kv, shape);
    auto context_grad = grad_outputs[0].contiguous();
    auto query_grad = torch::zeros(query_rows.sizes(), query_rows.options());
    auto key_value_grad = shared ? query_grad : torch::zeros(kv.sizes(), kv.options());
    AT_DISPATCH_FLOATING_TYPES(query_rows.scalar_type(), "scaled_dot_product_attention_backward", [&] {
      attention_backward<scalar_t>(
          heads_of<scalar_t>(query_rows, shape.query_offset, shape.head_dim),
          heads_of<scalar_t>(kv, shape.key_offset, shape.head_dim),
          heads_of<scalar_t>(kv, shape.value_offset, shape.head_dim), n, drop, seed,
          probabilities.data_ptr<scalar_t>(), context_grad.data_ptr<scalar_t>(),
          heads_of<scalar_t>(query_grad, shape.query_offset, shape.head_dim),
          heads_of<scalar_t>(key_value_grad, shape.key_offset, shape.head_dim),
          heads_of<scalar_t>(key_value_grad, shape.value_offset, shape.head_dim));
    });
    return {query_grad,      shared ? torch::Tensor() : key_value_grad,
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool attention_kernel_applies(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                              const torch::Tensor& bias) {
  return query_rows.device().is_cpu() && key_value_rows.device().is_cpu() &&
         (query_rows.scalar_type() == torch::kFloat || query_rows.scalar_type() == torch::kDouble) &&
         key_value_rows.scalar_type() == query_rows.scalar_type() &&
         (!bias.defined() || bias.scalar_type() == query_rows.scalar_type());
}

torch::Tensor attention_kernel(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                               const torch::Tensor& bias, const AttentionShape& shape, double dropout_probability,
                               uint64_t seed) {
  const bool shared = key_value_rows.is_same(query_rows);
  const auto none = torch::empty({0}, query_rows.options());
  return AttentionFunction::apply(query_rows, shared ? none : key_value_rows, bias.defined() ? bias : none, shape.heads,
                                  shape.head_dim, shape.query_offset, shape.key_offset, shape.value_offset,
                                  dropout_probability, static_cast<int64_t>(seed));
}

}  // namespace headcount
