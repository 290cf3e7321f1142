// `headcount compare`: run a preset's grid into DIR/runs/NAME (ordinary train run
// folders), measure inference speed, and write DIR/report.md, DIR/results.json and the
// figures. Re-running skips finished runs and resumes unfinished ones; a run that
// diverges or fails is recorded and the rest go on.
#pragma once

#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "study/preset.h"

namespace headcount {

struct CompareRequest {
  std::string preset;
  std::string out;
  int64_t seeds = 0;  // 0: the preset's
  std::vector<std::string> overrides;
  std::string command_line;  // recorded in the report
  // The headcount program that trains each run in a process of its own (so a crash stays
  // in its run and each run's peak memory is its own): /proc/self/exe from the CLI.
  std::string program;
  int threads = 0;  // threads in all; 0: LibTorch's current setting
  // Runs trained at once, each with threads / jobs threads. On few cores several
  // one-thread runs get more done than one run whose threads wait on each other.
  int jobs = 1;
  // Start at most this many runs in this call, then write the report of what is done (a
  // study spread over several sittings; 0 only writes the report); -1: no limit.
  int64_t max_runs = -1;
  // Asked while runs train: true starts no further run and passes SIGTERM to the runs in
  // training, which save a checkpoint and stop; the command run again resumes them. The
  // CLI passes a StopSignal's (Ctrl-C, SIGTERM).
  std::function<bool()> stop_requested;
  // Seconds a run may take to stop after the request's SIGTERM before it is killed.
  double stop_grace_seconds = 300;
};

// Returns results.json's content.
nlohmann::json compare(const CompareRequest& request, std::ostream& log);

}  // namespace headcount
