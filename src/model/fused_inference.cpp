#include "model/fused_inference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/residual_scheme.h"
#include "model/thin_linear.h"
#include "runtime/autocast.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

bool linear_fits(const LinearImpl& linear) {
  return float_cpu_contiguous(linear.weight) && (!linear.bias.defined() || float_cpu_contiguous(linear.bias));
}

bool layer_norm_fits(const torch::nn::LayerNormImpl& norm) {
  return float_cpu_contiguous(norm.weight) && float_cpu_contiguous(norm.bias);
}

// The layer's weights and norms as the loops below read them, and nothing recording it.
bool sublayers_fit(const TransformerLayerImpl& layer) {
  const auto& self = *layer.self_attention;
  if (self.recording() || !linear_fits(*self.query_key_value) || !linear_fits(*self.output)) return false;
  if (layer.cross_attention) {
    const auto& cross = *layer.cross_attention;
    if (cross.recording() || !linear_fits(*cross.query) || !linear_fits(*cross.output)) return false;
  }
  if (!linear_fits(*layer.feed_forward->expand) || !linear_fits(*layer.feed_forward->contract)) return false;
  auto residual_fits = [](const Residual& residual) {
    return !residual || (layer_norm_fits(*residual->norm) &&
                         (!residual->admin_scale.defined() || float_cpu_contiguous(residual->admin_scale)));
  };
  return residual_fits(layer.self_attention_residual) && residual_fits(layer.cross_attention_residual) &&
         residual_fits(layer.feed_forward_residual);
}

// Whether the stack is in a state the fused paths take: evaluation, no Admin probe, no
// gradients, no autocast, every layer fitting.
bool stack_fits(const TransformerStackImpl& stack) {
  if (stack.is_training() || stack.probe() || torch::GradMode::is_enabled() || cpu_autocast_enabled())
    return false;
  for (const auto& layer : stack.layers)
    if (!sublayers_fit(*layer)) return false;
  return !stack.final_norm || layer_norm_fits(*stack.final_norm);
}

// A decoder layer's caches: its own keys and values so far, the encoder output's.
bool caches_fit(const TransformerLayerImpl& layer, const LayerCache& cache, int64_t rows, int64_t memory_length) {
  const auto& kv = cache.self.key_value;
  if (kv.defined() && (!kv.device().is_cpu() || kv.scalar_type() != torch::kFloat || kv.dim() != 3 || kv.size(0) != rows))
    return false;
  if (!layer.cross_attention) return true;
  const auto& cross = *layer.cross_attention;
  const auto& memory = cache.memory.key_value;
  return float_cpu_contiguous(memory) && memory.dim() == 3 && memory.size(0) == rows &&
         memory.size(2) == 2 * cross.heads() * cross.head_dim() && memory.size(1) == memory_length;
}

// A bias [sentences, 1, 1, length] as the loops read it: contiguous, one row per sentence.
bool bias_fits(const torch::Tensor& bias, int64_t sentences) {
  return float_cpu_contiguous(bias) && bias.dim() == 4 && bias.size(0) == sentences &&
         bias.numel() == sentences * bias.size(3);
}

// One residual step's parameters as raw pointers (model/residual.h says what they mean).
struct ResidualView {
  const ResidualTraits* traits;
  const float* weight;  // Admin's learned w, or nullptr
  float alpha;          // the constant weight when there is no learned one
  const float* gamma;
  const float* beta;
  float eps;
};

ResidualView view_of(ResidualImpl& residual) {
  const auto& traits = traits_of(residual.scheme());
  const bool learned = residual.admin_scale.defined();
  const float alpha = traits.weight == ResidualWeight::Constant ? static_cast<float>(residual.scale()) : 1.0f;
  return {&traits, learned ? residual.admin_scale.data_ptr<float>() : nullptr, alpha,
          residual.norm->weight.data_ptr<float>(), residual.norm->bias.data_ptr<float>(),
          static_cast<float>(residual.norm->options.eps())};
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
  if (!r.traits->normalizes_input) return x;
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
  if (r.traits->normalizes_sum) layer_norm_rows(x, x, rows, d, r.gamma, r.beta, r.eps);
}

// y = x W^T + b. Up to kThinLinearMaxRows rows the few-rows product; more (the encoder's
// positions) the BLAS through ATen on the workspace's rows, whose register-blocked kernel
// then beats one dot product per output (callgrind: 2.8x fewer instructions at 12 rows).
void project(const LinearImpl& linear, const float* x, int64_t rows, float* y) {
  const float* bias = linear.bias.defined() ? linear.bias.data_ptr<float>() : nullptr;
  const int64_t in = linear.in_features(), out = linear.out_features();
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
// gets a zero context, as in model/attention_kernel.h.
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

Workspace workspace_for(const TransformerStackImpl& stack, int64_t rows, int64_t d, int64_t longest) {
  int64_t widest = d, attention_width = 1;
  for (const auto& layer : stack.layers) {
    widest = std::max({widest, layer->self_attention->query_key_value->out_features(),
                       layer->feed_forward->expand->out_features()});
    attention_width = std::max(attention_width, layer->self_attention->output->in_features());
    if (layer->cross_attention) attention_width = std::max(attention_width, layer->cross_attention->output->in_features());
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

void final_norm(const TransformerStackImpl& stack, float* x, int64_t rows, int64_t d) {
  if (!stack.final_norm) return;
  const auto& norm = *stack.final_norm;
  layer_norm_rows(x, x, rows, d, norm.weight.data_ptr<float>(), norm.bias.data_ptr<float>(),
                  static_cast<float>(norm.options.eps()));
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

// One attention sub-layer: the queries projected from the sub-layer's input by
// `queries` (the packed query-key-value projection, or the query one), the keys and values
// where keys_of(projected rows) says, attention, the output projection, the residual step.
template <typename Keys>
void attention_sublayer(const MultiHeadAttentionImpl& attention, ResidualImpl& residual, const LinearImpl& queries,
                        int64_t sentences, int64_t per_sentence, const float* bias, float* x, const StepShape& n,
                        const Workspace& w, Keys&& keys_of) {
  const auto r = view_of(residual);
  project(queries, sublayer_input(x, w.normed, n.rows, n.d, r), n.rows, w.projected);
  const KeyValueRows keys = keys_of(w.projected);
  attend_rows(w.projected, queries.out_features(), keys, bias, sentences, per_sentence, attention.heads(),
              attention.head_dim(), w.context, w.scores);
  project(*attention.output, w.context, n.rows, w.update);
  combine_rows(x, w.update, n.rows, n.d, r);
}

// The decoder's self-attention: the new position appended to the cache, attending to all of it.
void self_attention_sublayer(TransformerLayerImpl& layer, float* x, AttentionCache& cache, const StepShape& n,
                             const Workspace& w) {
  const auto& attention = *layer.self_attention;
  const int64_t inner = attention.heads() * attention.head_dim();
  attention_sublayer(attention, *layer.self_attention_residual, *attention.query_key_value, n.rows, 1, nullptr, x, n, w,
                     [&](const float* packed) { return append_to_cache(cache, packed, n.rows, inner); });
}

// The encoder's self-attention: every position of a sentence attends to all of its
// positions, padding hidden by the bias.
void encoder_self_attention_sublayer(TransformerLayerImpl& layer, float* x, const StepShape& n, const Workspace& w) {
  const auto& attention = *layer.self_attention;
  const int64_t inner = attention.heads() * attention.head_dim();
  attention_sublayer(attention, *layer.self_attention_residual, *attention.query_key_value, n.sentences, n.length,
                     n.bias, x, n, w, [&](const float* packed) {
                       return KeyValueRows{packed + inner, n.length * 3 * inner, 3 * inner, n.length, inner};
                     });
}

void cross_attention_sublayer(TransformerLayerImpl& layer, float* x, const AttentionCache& memory, const StepShape& n,
                              const Workspace& w) {
  const auto& attention = *layer.cross_attention;
  const int64_t inner = attention.heads() * attention.head_dim(), length = memory.key_value.size(1);
  const KeyValueRows keys{memory.key_value.data_ptr<float>(), length * 2 * inner, 2 * inner, length, inner};
  attention_sublayer(attention, *layer.cross_attention_residual, *attention.query, n.rows, 1, n.bias, x, n, w,
                     [&](const float*) { return keys; });
}

void feed_forward_sublayer(TransformerLayerImpl& layer, float* x, const StepShape& n, const Workspace& w) {
  const auto& feed_forward = *layer.feed_forward;
  const auto r = view_of(*layer.feed_forward_residual);
  project(*feed_forward.expand, sublayer_input(x, w.normed, n.rows, n.d, r), n.rows, w.projected);
  activate(w.projected, n.rows * feed_forward.expand->out_features(), n.activation);
  project(*feed_forward.contract, w.projected, n.rows, w.update);
  combine_rows(x, w.update, n.rows, n.d, r);
}

}  // namespace

bool fused_encoder_applies(const TransformerStackImpl& encoder, const torch::Tensor& x, const torch::Tensor& bias) {
  if (!float_cpu_contiguous(x) || x.dim() != 3 || x.size(0) * x.size(1) > kFusedEncoderMaxRows) return false;
  if (bias.defined() && (!bias_fits(bias, x.size(0)) || bias.size(3) != x.size(1))) return false;
  for (const auto& layer : encoder.layers)
    if (layer->cross_attention) return false;
  return stack_fits(encoder);
}

std::optional<torch::Tensor> fused_encoder_forward(TransformerStackImpl& encoder, Activation activation,
                                                   const torch::Tensor& x, const torch::Tensor& bias) {
  if (!fused_encoder_applies(encoder, x, bias)) return std::nullopt;
  const StepShape n{x.size(0) * x.size(1), x.size(2), bias.defined() ? bias.data_ptr<float>() : nullptr, activation,
                    x.size(0), x.size(1)};
  const auto w = workspace_for(encoder, n.rows, n.d, n.length);
  auto out = x.clone();
  float* stream = out.data_ptr<float>();
  for (auto& layer : encoder.layers) {
    encoder_self_attention_sublayer(*layer, stream, n, w);
    feed_forward_sublayer(*layer, stream, n, w);
  }
  final_norm(encoder, stream, n.rows, n.d);
  return out;
}

bool fused_decoder_step_applies(const TransformerStackImpl& decoder, const torch::Tensor& x,
                                const std::vector<LayerCache>& caches, const torch::Tensor& memory_bias) {
  if (!float_cpu_contiguous(x) || x.dim() != 3 || x.size(1) != 1 || x.size(0) > kThinLinearMaxRows) return false;
  if (caches.size() != decoder.layers.size() || !stack_fits(decoder)) return false;
  const int64_t rows = x.size(0);
  if (memory_bias.defined() && !bias_fits(memory_bias, rows)) return false;
  const int64_t memory_length = memory_bias.defined() ? memory_bias.size(3) : -1;
  for (size_t i = 0; i < caches.size(); ++i)
    if (!caches_fit(*decoder.layers[i], caches[i], rows, memory_length)) return false;
  return true;
}

std::optional<torch::Tensor> fused_decoder_step(TransformerStackImpl& decoder, Activation activation,
                                                const torch::Tensor& x, std::vector<LayerCache>& caches,
                                                const torch::Tensor& memory_bias) {
  if (!fused_decoder_step_applies(decoder, x, caches, memory_bias)) return std::nullopt;
  const StepShape n{x.size(0), x.size(2), memory_bias.defined() ? memory_bias.data_ptr<float>() : nullptr, activation,
                    x.size(0), 1};
  int64_t longest = 1;
  for (size_t i = 0; i < caches.size(); ++i) {
    const auto& self = caches[i].self.key_value;
    longest = std::max(longest, (self.defined() ? self.size(1) : 0) + 1);
    if (decoder.layers[i]->cross_attention) longest = std::max(longest, caches[i].memory.key_value.size(1));
  }
  const auto w = workspace_for(decoder, n.rows, n.d, longest);
  auto out = x.clone();
  float* stream = out.data_ptr<float>();
  for (size_t i = 0; i < caches.size(); ++i) {
    auto& layer = *decoder.layers[i];
    self_attention_sublayer(layer, stream, caches[i].self, n, w);
    if (layer.cross_attention) cross_attention_sublayer(layer, stream, caches[i].memory, n, w);
    feed_forward_sublayer(layer, stream, n, w);
  }
  final_norm(decoder, stream, n.rows, n.d);
  return out;
}

}  // namespace headcount
