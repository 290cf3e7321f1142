// Training a seq2seq run end to end: data, Admin profiling, updates with token-budget
// batches, dev evaluation, checkpoints, divergence detection, resume, test scoring.
//
// Divergence is a result, not a crash: a non-finite loss or gradient norm, or a train
// loss above train.divergence_loss, ends the run with status "diverged" and the update.
#pragma once

#include <functional>
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
  // Asked before every update (rank 0's answer decides for all ranks): true stops the run
  // cleanly, with checkpoint_last.pt saved at the current update and status "interrupted",
  // so --resume continues from there. The CLI passes a StopSignal's (Ctrl-C, SIGTERM).
  std::function<bool()> stop_requested;
  // Data-parallel training (train.processes > 1, see src/train/data_parallel.h): this
  // process's rank and the rendezvous file all ranks share. Rank 0 calls start_other_ranks
  // once the run folder holds the resolved config and the vocabularies, which the other
  // ranks read; only rank 0 writes to the run folder.
  int rank = 0;
  std::string rendezvous_file;
  std::function<void()> start_other_ranks;
};

// Returns summary.json's content (also written into the run folder).
nlohmann::json train(const TrainRequest& request, std::ostream& log);

}  // namespace headcount
