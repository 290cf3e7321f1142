// Inference speed of a trained model, measured the same way for every architecture of a
// grid in one process: encode a batch of random source tokens, then decode exactly as
// many target tokens as the source has (incremental greedy steps, no early stop, so every
// architecture does the same work). The median of `repeats` timings is reported.
#pragma once

#include <cstdint>
#include <vector>

#include "model/transformer.h"

namespace headcount {

struct InferenceTiming {
  int64_t batch = 0;
  int64_t length = 0;
  double median_ms = 0;
  double sentences_per_s = 0;
  double tokens_per_s = 0;  // output tokens a second
};

InferenceTiming measure_inference(Transformer& model, int64_t batch, int64_t length, int64_t repeats);

}  // namespace headcount
