// Speed of one training update, measured the way bench/reference_step.py measures the
// PyTorch-eager reference: an encoder-decoder on random tokens, fixed batch shape,
// Adam, label-smoothed cross-entropy, two warm-up steps, then the mean of `steps`.
#pragma once

#include <cstdint>

#include "model/model_config.h"
#include "runtime/runtime.h"

namespace headcount {

struct StepShape {
  int64_t encoder_layers = 3, decoder_layers = 3, heads = 4, d_model = 64, head_dim = 16, ffn_dim = 256;
  int64_t batch = 100, source_length = 12, target_length = 10, steps = 20;
  ResidualScheme residual = ResidualScheme::PostLn;
};

struct StepTiming {
  int64_t parameters = 0;
  double step_ms = 0;
  double tokens_per_s = 0;  // target tokens a second
};

// On the runtime's device, in its precision (autocast around forward and loss; fp16 with
// a loss scaler), as the reference does given the same device and precision.
StepTiming measure_training_step(const StepShape& shape, const Runtime& runtime = {});

}  // namespace headcount
