// Inference speed of trained models, measured the same way for every architecture of a
// grid in one process: encode a batch of random source tokens, then decode exactly as
// many target tokens as the source has (incremental greedy steps, no early stop, so every
// architecture does the same work).
//
// The models are timed in rounds, each round timing every model once (in a rotating
// order), and each model's median over the rounds is reported. On a shared or virtual
// machine the speed drifts by tens of percent over seconds; interleaving lets such a slow
// spell hit every architecture alike, so their ratios stay meaningful.
#pragma once

#include <cstdint>
#include <vector>

#include "model/transformer.h"
#include "runtime/runtime.h"
#include "study/preset.h"
#include "study/results.h"

namespace headcount {

struct InferenceTiming {
  int64_t batch = 0;
  int64_t length = 0;
  double median_ms = 0;
  double sentences_per_s = 0;
  double tokens_per_s = 0;  // output tokens a second
};

// Target tokens decoded for a source of `length` tokens: as many, within the model's positions.
int64_t decode_steps(const Transformer& model, int64_t length);

// One timing per model, in the order of `models`, from `rounds` interleaved rounds after
// one warm-up call of each model.
std::vector<InferenceTiming> measure_inference(std::vector<Transformer>& models, int64_t batch, int64_t length,
                                               int64_t rounds);

// One trained model per architecture of the runs (the first run with a best checkpoint, or
// else a last one), loaded onto the runtime's device and timed at every batch size and
// length of the grid, under the runtime's precision as `translate` decodes (autocast for
// bf16 and fp16). Rows grouped by architecture, the shallow model (most heads) first.
std::vector<InferenceRow> measure_grid_inference(const std::vector<RunRow>& runs, const InferenceGrid& grid,
                                                 const Runtime& runtime);

}  // namespace headcount
