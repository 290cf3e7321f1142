// Training a seq2seq run end to end: data, Admin profiling, updates with token-budget
// batches, dev evaluation, checkpoints, divergence detection, resume, test scoring.
//
// Divergence is a result, not a crash: a non-finite loss or gradient norm, or a train
// loss above train.divergence_loss, ends the run with status "diverged" and the update.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "config/run_config.h"

namespace headcount {

struct TrainRequest {
  RunConfig config;
  std::string run_dir;
  // Continue from run_dir/checkpoint_last.pt (a fresh start when there is none).
  // Without it, a run folder that already holds a checkpoint is refused.
  bool resume = false;
  // Stop (as if interrupted) after this many updates in this process; 0: no limit.
  // Tests use it to check that a resumed run matches an uninterrupted one.
  int64_t stop_after_updates = 0;
};

// Returns summary.json's content (also written into the run folder).
nlohmann::json train(const TrainRequest& request, std::ostream& log);

}  // namespace headcount
