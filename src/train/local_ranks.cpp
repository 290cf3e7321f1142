#include "train/local_ranks.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>

#include "run/run_folder.h"
#include "util/process.h"

namespace headcount {

LocalRanks::LocalRanks(std::string run_dir, bool resume, LaunchPlan plan, int threads)
    : run_dir_(std::move(run_dir)), resume_(resume), plan_(std::move(plan)), threads_(threads) {}

void LocalRanks::start(int port) {
  const std::string program = std::filesystem::read_symlink("/proc/self/exe").string();
  const RunFolder folder(run_dir_);
  auto plan = plan_;
  plan.master_port = port;
  for (int r = 1; r < plan.world_size; ++r) {
    std::vector<std::string> arguments{program, "--threads", std::to_string(threads_), "train", "--config",
                                       folder.config(), "--out", run_dir_, "--set", "train.processes=1"};
    if (resume_) arguments.push_back("--resume");
    pids_.push_back(start_process(arguments, folder.rank_log(r), /*hold_stop_signals=*/true, launch_environment(plan, r)));
  }
}

void LocalRanks::kill_all() {
  for (pid_t pid : pids_) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pids_.clear();
}

int LocalRanks::wait_all() {
  int failed = 0;
  for (pid_t pid : pids_) failed += wait_for_process(pid) != 0;
  pids_.clear();
  return failed;
}

}  // namespace headcount
