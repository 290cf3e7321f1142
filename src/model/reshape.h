// Multi-head -> K-head reshaping (the paper's reconstruction) and parameter counting.
//
// A stack of L layers with H heads of width d/H and FFN f becomes L*H/K layers with K
// heads of the same width and FFN f*K/H: attention and FFN weights match exactly, only
// biases and LayerNorms grow.
#pragma once

#include <cstdint>
#include <string>

#include "model/model_config.h"

namespace headcount {

// Throws std::invalid_argument explaining which number does not divide which.
StackConfig reshape_stack(const StackConfig& stack, int64_t d_model, int64_t to_heads);
// Both stacks of the model (those that exist), each to to_heads heads per layer.
ModelConfig reshape_model(const ModelConfig& config, int64_t to_heads);

struct StackParameterCount {
  int64_t total = 0;                 // weights, biases, LayerNorms, admin scales
  int64_t attention_ffn_weights = 0;  // the weight matrices of attention and FFN only
};

// Counts one stack as TransformerStack builds it (biases included, embeddings excluded).
StackParameterCount count_stack_parameters(const StackConfig& stack, int64_t d_model, bool cross_attention,
                                           ResidualScheme scheme);

}  // namespace headcount
