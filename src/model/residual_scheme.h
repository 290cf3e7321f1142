// The residual schemes, each defined once, as data: how the residual step around every
// sub-layer combines the stream x with the sub-layer's output f, whether the stack ends
// with a LayerNorm, what weights the residual branch and how it starts, and how the
// weights are initialised. The model (residual.h, stack.h, layer.h), the configuration,
// reshape's parameter count and docs/config.md all read this table; adding a scheme means
// this file, residual_scheme.cpp and their tests. The formulas and papers: docs/method.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace headcount {

enum class ResidualScheme { PostLn, PreLn, Admin, AdminFixed, DeepNorm };

std::string to_string(ResidualScheme scheme);
// Throws std::invalid_argument naming the accepted spellings.
ResidualScheme parse_residual_scheme(const std::string& name);
// Every scheme, in the table's order.
std::vector<ResidualScheme> all_residual_schemes();

// Where a stack sits in its model, for the closed forms that depend on depth.
struct StackPlace {
  int64_t encoder_layers = 0;  // 0 when the model has no encoder
  int64_t decoder_layers = 0;  // 0 when the model has no decoder
  bool is_encoder = true;      // which of the two this stack is
  int64_t sublayers = 0;       // residual sub-layers in this stack
};

// What multiplies x on the residual branch.
enum class ResidualWeight {
  None,      // x + f
  Learned,   // w * x + f, w a learned vector of d_model entries
  Constant,  // alpha * x + f, alpha a fixed number
};

struct ResidualTraits {
  ResidualScheme scheme;
  const char* name;
  const char* formula;    // the residual step, in the notation of docs/method.md
  bool normalizes_input;  // the sub-layer reads LN(x) instead of x
  bool normalizes_sum;    // LN is applied to the sum
  bool final_norm;        // the stack's output goes through one more LayerNorm
  ResidualWeight weight;
  bool profiled;     // w is set by Admin profiling on the first training batch
  bool scaled_init;  // value, output and FFN weights are Xavier-normal with init_gain
  // w (Learned) or alpha (Constant) before training; ignored for None.
  double (*initial_weight)(const StackPlace& place);
  // The gain of scaled_init.
  double (*init_gain)(const StackPlace& place);
  const char* source;  // the paper the scheme comes from
};

const ResidualTraits& traits_of(ResidualScheme scheme);

// admin-fixed: w = sqrt((N+1)/ln(N+1) - 1), N = residual sub-layers in the stack.
double admin_fixed_scale(int64_t sublayers);

// DeepNet's residual scale alpha and initialisation gain beta for one stack.
struct DeepNormCoefficients {
  double alpha = 1.0;
  double beta = 1.0;
};
// encoder_layers/decoder_layers: 0 when the stack does not exist.
DeepNormCoefficients deepnorm_encoder(int64_t encoder_layers, int64_t decoder_layers);
DeepNormCoefficients deepnorm_decoder(int64_t encoder_layers, int64_t decoder_layers);

// docs/config.md's table of the schemes, from the traits.
std::string residual_schemes_markdown();

}  // namespace headcount
