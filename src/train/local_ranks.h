// Ranks 1..N-1 of a data-parallel run on this machine (train.processes = N, no launcher):
// copies of this program that rank 0 starts once the run folder holds the config they read
// and the rendezvous store listens, each logging to RUN/rankR.log and finding the group
// through torchrun's variables (train/launch.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "train/launch.h"

namespace headcount {

class LocalRanks {
 public:
  // run_dir: the run folder rank 0 trains in; threads: each rank's compute threads.
  LocalRanks(std::string run_dir, bool resume, LaunchPlan plan, int threads);
  LocalRanks(const LocalRanks&) = delete;
  LocalRanks& operator=(const LocalRanks&) = delete;

  // Starts the other ranks against the store at port.
  void start(int port);
  // When rank 0 fails, the others would wait inside a collective until it times out.
  void kill_all();
  // Waits for every rank; returns how many failed.
  int wait_all();

 private:
  std::string run_dir_;
  bool resume_;
  LaunchPlan plan_;
  int threads_;
  std::vector<pid_t> pids_;
};

}  // namespace headcount
