// The model and batch that `headcount bench` times: an encoder-decoder Transformer on random
// tokens, the model of bench/reference_step.py (the PyTorch-eager reference). A shape comes
// by name (the ones docs/benchmarks.md and the speed targets use) or by numbers, and knows
// how much matrix-product work one update or one decoding call holds, so a time becomes
// GFLOP/s and a fraction of the machine's measured peak.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/residual_scheme.h"

namespace headcount {

struct StepShape {
  int64_t encoder_layers = 3, decoder_layers = 3, heads = 4, d_model = 64, head_dim = 16, ffn_dim = 256;
  int64_t batch = 100, source_length = 12, target_length = 10, steps = 20;
  int64_t vocabulary = 100;  // the reference's: random tokens, so the output layer stays small
  ResidualScheme residual = ResidualScheme::PostLn;
};

// demo-shallow and demo-deep: the G2P demo's 3L-4H model (d 64) and its 12L-1H reshaping,
// batches of 200 sentences of 12 source and 10 target tokens; g2p-base: 3L-8H d 128, 450 x
// 9/9; base-shallow and base-deep: Transformer-base 6L-8H d 512 (FFN 2048) and its 48L-1H
// reshaping (FFN 256), 64 x 24/24; large-shallow and large-deep: BERT-large's stack
// 24L-16H d 1024 (FFN 4096) and its 384L-1H reshaping (FFN 256), as encoder and decoder,
// 16 x 24/24 (GPU sizes: the GPU check times them).
std::vector<std::string> step_shape_names();
// Throws std::invalid_argument naming the known shapes.
StepShape named_step_shape(const std::string& name);

// Floating-point operations of the matrix products (projections, attention scores and
// weighted sums, FFN, output layer; full, not causal-halved, attention) of one forward pass
// over the batch. Element-wise work (LayerNorm, softmax, dropout) is left out, as MFU
// figures conventionally do.
double forward_flops(const StepShape& shape);
// One training update: the forward pass and a backward pass of twice its products.
double training_flops(const StepShape& shape);
// Encoding the batch and decoding `steps` tokens greedily with incremental state.
double decoding_flops(const StepShape& shape, int64_t steps);

}  // namespace headcount
