#include "kernels/cpu/inference_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/thin_linear.h"
#include "runtime/autocast.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

bool linear_fits(const LinearWeights& linear) {
  return float_cpu_contiguous(linear.weight) && (!linear.bias.defined() || float_cpu_contiguous(linear.bias));
}

bool norm_fits(const NormWeights& norm) { return float_cpu_contiguous(norm.gamma) && float_cpu_contiguous(norm.beta); }

// Every weight as the loops below read it (a cross-attention's memory projection is the
// model's, applied before decoding).
bool sublayer_fits(const SublayerWeights& s) {
  const auto& r = s.residual;
  return linear_fits(s.input) && linear_fits(s.output) && norm_fits(r.norm) &&
         (!r.weight.defined() || float_cpu_contiguous(r.weight));
}

// Whether the rows can be computed here at all: no gradients, no autocast, every weight
// fitting.
bool stack_fits(const StackWeights& stack) {
  if (torch::GradMode::is_enabled() || cpu_autocast_enabled()) return false;
  for (const auto& layer : stack.layers)
    for (const auto& sublayer : layer.sublayers)
      if (!sublayer_fits(sublayer)) return false;
  return !stack.final_norm || norm_fits(*stack.final_norm);
}

const SublayerWeights* cross_attention_of(const LayerWeights& layer) {
  for (const auto& s : layer.sublayers)
    if (s.kind == SublayerKind::CrossAttention) return &s;
  return nullptr;
}

// A decoder layer's caches: its own keys and values so far, the encoder output's.
bool caches_fit(const LayerWeights& layer, const LayerCache& cache, int64_t rows, int64_t memory_length) {
  const auto& kv = cache.self.key_value;
  if (kv.defined() && (!kv.device().is_cpu() || kv.scalar_type() != torch::kFloat || kv.dim() != 3 || kv.size(0) != rows))
    return false;
  const auto* cross = cross_attention_of(layer);
  if (!cross) return true;
  const auto& memory = cache.memory.key_value;
  return float_cpu_contiguous(memory) && memory.dim() == 3 && memory.size(0) == rows &&
         memory.size(2) == 2 * cross->heads * cross->head_dim && memory.size(1) == memory_length;
}

// A bias [sentences, 1, 1, length] as the loops read it: contiguous, one row per sentence.
bool bias_fits(const torch::Tensor& bias, int64_t sentences) {
  return float_cpu_contiguous(bias) && bias.dim() == 4 && bias.size(0) == sentences &&
         bias.numel() == sentences * bias.size(3);
}

// One residual step's parameters as raw pointers.
struct ResidualView {
  bool normalizes_input, normalizes_sum;
  const float* weight;  // Admin's learned w, or nullptr
  float alpha;          // the constant weight when there is no learned one
  const float* gamma;
  const float* beta;
  float eps;
};

ResidualView view_of(const ResidualWeights& r) {
  return {r.normalizes_input,
          r.normalizes_sum,
          r.weight.defined() ? r.weight.data_ptr<float>() : nullptr,
          static_cast<float>(r.alpha),
          r.norm.gamma.data_ptr<float>(),
          r.norm.beta.data_ptr<float>(),
          static_cast<float>(r.norm.eps)};
}

// y = LayerNorm(x) row by row; y may be x.
HEADCOUNT_VECTOR_CLONES void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t d, const float* gamma,
                                             const float* beta, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    float mean = 0;
#pragma omp simd reduction(+ : mean)
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= static_cast<float>(d);
    float variance = 0;
#pragma omp simd reduction(+ : variance)
    for (int64_t i = 0; i < d; ++i) variance += (xr[i] - mean) * (xr[i] - mean);
    const float inverse = 1.0f / std::sqrt(variance / static_cast<float>(d) + eps);
#pragma omp simd
    for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * inverse * gamma[i] + beta[i];
  }
}

// The sub-layer's input: LN(x) where the scheme normalises it (written to normed), else x.
const float* sublayer_input(const float* x, float* normed, int64_t rows, int64_t d, const ResidualView& r) {
  if (!r.normalizes_input) return x;
  layer_norm_rows(x, normed, rows, d, r.gamma, r.beta, r.eps);
  return normed;
}

// x = w * x + update, then LN where the scheme normalises the sum.
HEADCOUNT_VECTOR_CLONES void combine_rows(float* x, const float* update, int64_t rows, int64_t d,
                                          const ResidualView& r) {
  for (int64_t row = 0; row < rows; ++row) {
    float* xr = x + row * d;
    const float* ur = update + row * d;
    if (r.weight) {
#pragma omp simd
      for (int64_t i = 0; i < d; ++i) xr[i] = ur[i] + r.weight[i] * xr[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < d; ++i) xr[i] = ur[i] + r.alpha * xr[i];
    }
  }
  if (r.normalizes_sum) layer_norm_rows(x, x, rows, d, r.gamma, r.beta, r.eps);
}

// y = x W^T + b. Up to kThinLinearMaxRows rows the few-rows product; more (the encoder's
// positions) the BLAS through ATen on the workspace's rows, whose register-blocked kernel
// then beats one dot product per output (callgrind: 2.8x fewer instructions at 12 rows).
void project(const LinearWeights& linear, const float* x, int64_t rows, float* y) {
  const float* bias = linear.bias.defined() ? linear.bias.data_ptr<float>() : nullptr;
  const int64_t in = linear.weight.size(1), out = linear.weight.size(0);
  if (rows <= kThinLinearMaxRows) return thin_linear_rows(x, rows, linear.weight.data_ptr<float>(), bias, y, in, out);
  auto input = torch::from_blob(const_cast<float*>(x), {rows, in}, torch::kFloat);
  auto output = torch::from_blob(y, {rows, out}, torch::kFloat);
  if (bias)
    at::addmm_out(output, linear.bias, input, linear.weight.t());
  else
    at::mm_out(output, input, linear.weight.t());
}

// Where one side's keys and values lie: position s of row b at data + b*row_stride +
// s*position_stride, its keys from column 0, its values from value_offset.
struct KeyValueRows {
  const float* data;
  int64_t row_stride;
  int64_t position_stride;
  int64_t length;
  int64_t value_offset;
};

// context[b, t, h] = softmax(q[b, t, h] . k[b, s, h] / sqrt(head_dim) + bias[b, s]) v[b, s, h],
// summed over the positions s, for `queries` queries of each of `sentences` sentences (rows
// of query, in order); bias [sentences, length] or nullptr. A query that may look nowhere
// gets a zero context, as in kernels/cpu/attention_kernel.h.
HEADCOUNT_VECTOR_CLONES void attend_rows(const float* query, int64_t query_stride, const KeyValueRows& kv,
                                         const float* bias, int64_t sentences, int64_t queries, int64_t heads,
                                         int64_t head_dim, float* context, float* scores) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int64_t b = 0; b < sentences; ++b) {
    for (int64_t t = 0; t < queries; ++t) {
      for (int64_t h = 0; h < heads; ++h) {
        const float* q = query + (b * queries + t) * query_stride + h * head_dim;
        const float* keys = kv.data + b * kv.row_stride + h * head_dim;
        float top = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < kv.length; ++s) {
          const float* k = keys + s * kv.position_stride;
          float dot = 0;
#pragma omp simd reduction(+ : dot)
          for (int64_t i = 0; i < head_dim; ++i) dot += q[i] * k[i];
          scores[s] = dot * scale + (bias ? bias[b * kv.length + s] : 0.0f);
          top = std::max(top, scores[s]);
        }
        float* out = context + ((b * queries + t) * heads + h) * head_dim;
        std::fill(out, out + head_dim, 0.0f);
        if (top == -std::numeric_limits<float>::infinity()) continue;
        float total = 0;
        for (int64_t s = 0; s < kv.length; ++s) total += scores[s] = std::exp(scores[s] - top);
        for (int64_t s = 0; s < kv.length; ++s) {
          const float p = scores[s] / total;
          const float* v = keys + kv.value_offset + s * kv.position_stride;
#pragma omp simd
          for (int64_t i = 0; i < head_dim; ++i) out[i] += p * v[i];
        }
      }
    }
  }
}

// Whether cache (a view of a buffer's first positions) has room for one more position.
bool has_room(const torch::Tensor& cache, int64_t width) {
  if (!cache.defined() || cache.storage_offset() != 0 || cache.stride(2) != 1 || cache.stride(1) != width ||
      cache.stride(0) % width != 0)
    return false;
  const int64_t capacity = cache.stride(0) / width;
  return capacity > cache.size(1) &&
         cache.storage().nbytes() >= static_cast<size_t>(cache.size(0) * cache.stride(0)) * sizeof(float);
}

// Appends the new positions' keys and values (columns [inner, 3*inner) of the packed
// projection qkv) to the self-attention cache; returns where all of them lie. The buffer
// doubles when full, so a sentence of n tokens copies O(n) rows, not O(n^2).
KeyValueRows append_to_cache(AttentionCache& cache, const float* qkv, int64_t rows, int64_t inner) {
  const int64_t width = 2 * inner;
  auto& kv = cache.key_value;
  const int64_t length = kv.defined() ? kv.size(1) : 0;
  if (!has_room(kv, width)) {
    auto buffer = torch::empty({rows, std::max<int64_t>(16, 2 * (length + 1)), width}, torch::kFloat);
    if (length > 0) buffer.narrow(1, 0, length).copy_(kv);
    kv = buffer.narrow(1, 0, length);
  }
  const int64_t row_stride = kv.stride(0);
  kv = kv.as_strided({rows, length + 1, width}, {row_stride, width, 1});
  float* data = kv.data_ptr<float>();
  for (int64_t b = 0; b < rows; ++b)
    std::memcpy(data + b * row_stride + length * width, qkv + b * 3 * inner + inner, width * sizeof(float));
  return {data, row_stride, width, length + 1, inner};
}

HEADCOUNT_VECTOR_CLONES void activate(float* x, int64_t n, Activation activation) {
  if (activation == Activation::Relu) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
  } else {  // GELU with erf, as torch::gelu's default
    for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
  }
}

// Scratch rows of one pass, carved from one allocation.
struct Workspace {
  torch::Tensor storage;
  float* normed;     // [rows, d]
  float* projected;  // [rows, widest projection]
  float* context;    // [rows, widest attention]
  float* update;     // [rows, d]
  float* scores;     // [longest attended length]
};

Workspace workspace_for(const StackWeights& stack, int64_t rows, int64_t d, int64_t longest) {
  int64_t widest = d, attention_width = 1;
  for (const auto& layer : stack.layers)
    for (const auto& s : layer.sublayers) {
      widest = std::max(widest, s.input.weight.size(0));
      if (s.kind != SublayerKind::FeedForward) attention_width = std::max(attention_width, s.output.weight.size(1));
    }
  Workspace w;
  w.storage = torch::empty({rows * (2 * d + widest + attention_width) + longest}, torch::kFloat);
  w.normed = w.storage.data_ptr<float>();
  w.projected = w.normed + rows * d;
  w.context = w.projected + rows * widest;
  w.update = w.context + rows * attention_width;
  w.scores = w.update + rows * d;
  return w;
}

void final_norm(const StackWeights& stack, float* x, int64_t rows, int64_t d) {
  if (!stack.final_norm) return;
  const auto& norm = *stack.final_norm;
  layer_norm_rows(x, x, rows, d, norm.gamma.data_ptr<float>(), norm.beta.data_ptr<float>(), static_cast<float>(norm.eps));
}

// The rows a pass works on: `sentences` sentences of `length` positions each (the decoder
// step: length 1), and the bias their attention adds ([sentences, S] or nullptr: the
// encoder's padding, or the decoder's over the encoder output).
struct StepShape {
  int64_t rows, d;
  const float* bias;
  Activation activation;
  int64_t sentences, length;
};

// One attention sub-layer: the queries projected from the sub-layer's input (the packed
// query-key-value projection, or the query one), the keys and values where keys_of(projected
// rows) says, attention, the output projection, the residual step.
template <typename Keys>
void attention_sublayer(const SublayerWeights& s, int64_t sentences, int64_t per_sentence, const float* bias, float* x,
                        const StepShape& n, const Workspace& w, Keys&& keys_of) {
  const auto r = view_of(s.residual);
  project(s.input, sublayer_input(x, w.normed, n.rows, n.d, r), n.rows, w.projected);
  const KeyValueRows keys = keys_of(w.projected);
  attend_rows(w.projected, s.input.weight.size(0), keys, bias, sentences, per_sentence, s.heads, s.head_dim, w.context,
              w.scores);
  project(s.output, w.context, n.rows, w.update);
  combine_rows(x, w.update, n.rows, n.d, r);
}

// The decoder's self-attention: the new position appended to the cache, attending to all of it.
void decoder_self_attention_sublayer(const SublayerWeights& s, float* x, AttentionCache& cache, const StepShape& n,
                            const Workspace& w) {
  const int64_t inner = s.heads * s.head_dim;
  attention_sublayer(s, n.rows, 1, nullptr, x, n, w,
                     [&](const float* packed) { return append_to_cache(cache, packed, n.rows, inner); });
}

// The encoder's self-attention: every position of a sentence attends to all of its
// positions, padding hidden by the bias.
void encoder_self_attention_sublayer(const SublayerWeights& s, float* x, const StepShape& n, const Workspace& w) {
  const int64_t inner = s.heads * s.head_dim;
  attention_sublayer(s, n.sentences, n.length, n.bias, x, n, w, [&](const float* packed) {
    return KeyValueRows{packed + inner, n.length * 3 * inner, 3 * inner, n.length, inner};
  });
}

void cross_attention_sublayer(const SublayerWeights& s, float* x, const AttentionCache& memory, const StepShape& n,
                     const Workspace& w) {
  const int64_t inner = s.heads * s.head_dim, length = memory.key_value.size(1);
  const KeyValueRows keys{memory.key_value.data_ptr<float>(), length * 2 * inner, 2 * inner, length, inner};
  attention_sublayer(s, n.rows, 1, n.bias, x, n, w, [&](const float*) { return keys; });
}

void feed_forward_sublayer(const SublayerWeights& s, float* x, const StepShape& n, const Workspace& w) {
  const auto r = view_of(s.residual);
  project(s.input, sublayer_input(x, w.normed, n.rows, n.d, r), n.rows, w.projected);
  activate(w.projected, n.rows * s.input.weight.size(0), n.activation);
  project(s.output, w.projected, n.rows, w.update);
  combine_rows(x, w.update, n.rows, n.d, r);
}

}  // namespace

bool encoder_rows_apply(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias) {
  if (!float_cpu_contiguous(x) || x.dim() != 3 || x.size(0) * x.size(1) > kFusedEncoderMaxRows) return false;
  if (bias.defined() && (!bias_fits(bias, x.size(0)) || bias.size(3) != x.size(1))) return false;
  for (const auto& layer : encoder.layers)
    if (cross_attention_of(layer)) return false;
  return stack_fits(encoder);
}

torch::Tensor encoder_rows(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias) {
  const StepShape n{x.size(0) * x.size(1), x.size(2), bias.defined() ? bias.data_ptr<float>() : nullptr,
                    encoder.activation, x.size(0), x.size(1)};
  const auto w = workspace_for(encoder, n.rows, n.d, n.length);
  auto out = x.clone();
  float* stream = out.data_ptr<float>();
  for (const auto& layer : encoder.layers)
    for (const auto& s : layer.sublayers) {
      switch (s.kind) {
        case SublayerKind::SelfAttention: encoder_self_attention_sublayer(s, stream, n, w); break;
        case SublayerKind::FeedForward: feed_forward_sublayer(s, stream, n, w); break;
        case SublayerKind::CrossAttention: TORCH_CHECK(false, "an encoder layer has no cross-attention");
      }
    }
  final_norm(encoder, stream, n.rows, n.d);
  return out;
}

bool decoder_step_rows_apply(const StackWeights& decoder, const torch::Tensor& x, const std::vector<LayerCache>& caches,
                             const torch::Tensor& memory_bias) {
  if (!float_cpu_contiguous(x) || x.dim() != 3 || x.size(1) != 1 || x.size(0) > kThinLinearMaxRows) return false;
  if (caches.size() != decoder.layers.size() || !stack_fits(decoder)) return false;
  const int64_t rows = x.size(0);
  if (memory_bias.defined() && !bias_fits(memory_bias, rows)) return false;
  const int64_t memory_length = memory_bias.defined() ? memory_bias.size(3) : -1;
  for (size_t i = 0; i < caches.size(); ++i)
    if (!caches_fit(decoder.layers[i], caches[i], rows, memory_length)) return false;
  return true;
}

torch::Tensor decoder_step_rows(const StackWeights& decoder, const torch::Tensor& x, std::vector<LayerCache>& caches,
                                const torch::Tensor& memory_bias) {
  const StepShape n{x.size(0), x.size(2), memory_bias.defined() ? memory_bias.data_ptr<float>() : nullptr,
                    decoder.activation, x.size(0), 1};
  int64_t longest = 1;
  for (size_t i = 0; i < caches.size(); ++i) {
    const auto& self = caches[i].self.key_value;
    longest = std::max(longest, (self.defined() ? self.size(1) : 0) + 1);
    if (cross_attention_of(decoder.layers[i])) longest = std::max(longest, caches[i].memory.key_value.size(1));
  }
  const auto w = workspace_for(decoder, n.rows, n.d, longest);
  auto out = x.clone();
  float* stream = out.data_ptr<float>();
  for (size_t i = 0; i < caches.size(); ++i)
    for (const auto& s : decoder.layers[i].sublayers) {
      switch (s.kind) {
        case SublayerKind::SelfAttention: decoder_self_attention_sublayer(s, stream, caches[i].self, n, w); break;
        case SublayerKind::CrossAttention: cross_attention_sublayer(s, stream, caches[i].memory, n, w); break;
        case SublayerKind::FeedForward: feed_forward_sublayer(s, stream, n, w); break;
      }
    }
  final_norm(decoder, stream, n.rows, n.d);
  return out;
}

}  // namespace headcount
