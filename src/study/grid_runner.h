// Trains the runs of a grid, each as `headcount train` in a process of its own (so a crash
// stays in its run and each run's peak memory is its own), `jobs` at a time, in training
// order, skipping the runs that ended earlier. A run that fails is recorded in its folder
// (failed.txt) and the grid goes on; a stop request starts no further run and passes
// SIGTERM to the runs in training, which save a checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "study/preset.h"

namespace headcount {

struct GridRunnerOptions {
  std::string program;       // the headcount program
  std::string out;           // runs go to out/runs/NAME, their configs to out/configs/NAME.yaml
  int threads_per_run = 1;
  int jobs = 1;
  int64_t max_runs = -1;     // start at most this many runs; -1: no limit
  std::function<bool()> stop_requested;
  // A run still going this long after the stop request's SIGTERM is killed (SIGKILL); its
  // folder then holds killed.txt saying so, and its last checkpoint resumes it.
  double stop_grace_seconds = 300;
};

// True when the run folder's summary says finished or diverged.
bool run_ended(const std::string& run_dir);

// Returns how many runs it started. A run with a `pretrained` run starts once that run has
// finished, with train.init_from set to its folder.
int64_t train_grid(const std::vector<GridRun>& grid, const GridRunnerOptions& options, std::ostream& log);

}  // namespace headcount
