#include "study/step_shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

namespace headcount {
namespace {

struct NamedShape {
  const char* name;
  StepShape shape;
};

StepShape shape_of(int64_t layers, int64_t heads, int64_t d, int64_t head_dim, int64_t ffn, int64_t batch,
                   int64_t source, int64_t target, int64_t steps) {
  StepShape s;
  s.encoder_layers = s.decoder_layers = layers;
  s.heads = heads, s.d_model = d, s.head_dim = head_dim, s.ffn_dim = ffn;
  s.batch = batch, s.source_length = source, s.target_length = target, s.steps = steps;
  return s;
}

const std::vector<NamedShape>& named_shapes() {
  static const std::vector<NamedShape> shapes{
      {"demo-shallow", shape_of(3, 4, 64, 16, 256, 200, 12, 10, 20)},
      {"demo-deep", shape_of(12, 1, 64, 16, 64, 200, 12, 10, 20)},
      {"g2p-base", shape_of(3, 8, 128, 16, 512, 450, 9, 9, 10)},
      {"base-shallow", shape_of(6, 8, 512, 64, 2048, 64, 24, 24, 5)},
      {"base-deep", shape_of(48, 1, 512, 64, 256, 64, 24, 24, 5)},
      {"large-shallow", shape_of(24, 16, 1024, 64, 4096, 16, 24, 24, 5)},
      {"large-deep", shape_of(384, 1, 1024, 64, 256, 16, 24, 24, 5)},
  };
  return shapes;
}

// One layer's products for one query token: projections in, attention over `keys`
// positions, projection out.
double attention_flops(const StepShape& s, double keys) {
  const double inner = static_cast<double>(s.heads * s.head_dim);
  return 2.0 * s.d_model * inner * 4 + 4.0 * keys * inner;
}

double ffn_flops(const StepShape& s) { return 4.0 * static_cast<double>(s.d_model) * s.ffn_dim; }

double encoder_flops(const StepShape& s) {
  return static_cast<double>(s.batch * s.source_length * s.encoder_layers) *
         (attention_flops(s, static_cast<double>(s.source_length)) + ffn_flops(s));
}

// Cross-attention's keys and values: two projections of every source token, per decoder layer.
double memory_projection_flops(const StepShape& s) {
  return static_cast<double>(s.batch * s.source_length * s.decoder_layers) * 4.0 * s.d_model * s.heads * s.head_dim;
}

// One target token attending `self_keys` earlier positions; cross-attention's query and
// output projections only (its keys and values are memory_projection_flops).
double decoder_token_flops(const StepShape& s, double self_keys) {
  const double inner = static_cast<double>(s.heads * s.head_dim);
  const double cross = 4.0 * s.d_model * inner + 4.0 * static_cast<double>(s.source_length) * inner;
  return static_cast<double>(s.decoder_layers) * (attention_flops(s, self_keys) + cross + ffn_flops(s)) +
         2.0 * static_cast<double>(s.d_model) * s.vocabulary;
}

}  // namespace

std::vector<std::string> step_shape_names() {
  std::vector<std::string> names;
  for (const auto& n : named_shapes()) names.emplace_back(n.name);
  return names;
}

StepShape named_step_shape(const std::string& name) {
  for (const auto& n : named_shapes())
    if (name == n.name) return n.shape;
  throw std::invalid_argument(fmt::format("unknown shape '{}': expected one of {}", name, fmt::join(step_shape_names(), ", ")));
}

double forward_flops(const StepShape& s) {
  return encoder_flops(s) + memory_projection_flops(s) +
         static_cast<double>(s.batch * s.target_length) * decoder_token_flops(s, static_cast<double>(s.target_length));
}

double training_flops(const StepShape& s) { return 3.0 * forward_flops(s); }

double decoding_flops(const StepShape& s, int64_t steps) {
  double decoded = 0;
  for (int64_t t = 1; t <= steps; ++t) decoded += decoder_token_flops(s, static_cast<double>(t));
  return encoder_flops(s) + memory_projection_flops(s) + static_cast<double>(s.batch) * decoded;
}

}  // namespace headcount
