// headcount train: one training run into one run folder.
//
// Data-parallel runs (train/launch.h): under torchrun or srun every rank is this command,
// started by the launcher. With train.processes = N > 1 and no launcher, this process is
// rank 0: once the run folder holds the resolved config and the rendezvous store listens,
// it starts ranks 1..N-1 as copies of this program with torchrun's variables (their output
// in RUN/rankR.log), splits the --threads between the ranks, and waits for them at the end.
//
// Ctrl-C or SIGTERM stops the run cleanly (src/util/stop_signal.h): a checkpoint at the
// current update, exit status 130 or 143, and `--resume` goes on from there.
#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "config/run_config.h"
#include "runtime/threads.h"
#include "task/task_factory.h"
#include "train/launch.h"
#include "train/trainer.h"
#include "util/process.h"
#include "util/stop_signal.h"

namespace headcount {

namespace fs = std::filesystem;

namespace {

struct TrainOptions {
  std::string config_path, out;
  std::vector<std::string> overrides;
  bool resume = false;
};

// The run's config: the file given, or the run's own config.yaml when resuming, with the
// overrides; checked in full (the task's keys too) before anything is written. Returns
// the exit status 2 after printing the problem, or 0.
int resolve_config(const TrainOptions& o, RunConfig& config) {
  std::string path = o.config_path;
  const auto own = fs::path(o.out) / "config.yaml";
  if (path.empty() && o.resume && fs::exists(own)) path = own.string();
  if (path.empty() && !o.resume) {
    std::cerr << "headcount train: --config is required for a new run\n";
    return 2;
  }
  try {
    config = load_config(path, o.overrides);
    make_task(config, make_runtime(config.train.device, config.train.precision), path.empty() ? "config" : path);
  } catch (const ConfigError& e) {
    std::cerr << "headcount train: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {  // the device or precision, on this machine
    std::cerr << "headcount train: train.device/train.precision: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

// Ranks 1..N-1 of a data-parallel run on this machine: copies of this program that rank 0
// starts once the run folder holds the config they read and the store listens, each
// logging to RUN/rankR.log and finding the group through torchrun's variables.
class LocalRanks {
 public:
  LocalRanks(const TrainOptions& options, const LaunchPlan& plan, int threads)
      : options_(options), plan_(plan), threads_(threads) {}

  void start(int port) {
    const std::string program = fs::read_symlink("/proc/self/exe").string();
    const auto config = (fs::path(options_.out) / "config.yaml").string();
    auto plan = plan_;
    plan.master_port = port;
    for (int r = 1; r < plan.world_size; ++r) {
      std::vector<std::string> arguments{program, "--threads", std::to_string(threads_), "train", "--config", config,
                                         "--out", options_.out, "--set", "train.processes=1"};
      if (options_.resume) arguments.push_back("--resume");
      pids_.push_back(start_process(arguments, (fs::path(options_.out) / fmt::format("rank{}.log", r)).string(),
                                    /*hold_stop_signals=*/true, launch_environment(plan, r)));
    }
  }
  // When rank 0 fails, the others would wait inside a collective until it times out.
  void kill_all() {
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    pids_.clear();
  }
  // The number of ranks that failed.
  int wait_all() {
    int failed = 0;
    for (pid_t pid : pids_) failed += wait_for_process(pid) != 0;
    pids_.clear();
    return failed;
  }

 private:
  const TrainOptions& options_;
  LaunchPlan plan_;
  int threads_;
  std::vector<pid_t> pids_;
};

int run_training(const TrainOptions& options) {
  RunConfig config;
  if (int status = resolve_config(options, config)) return status;
  LaunchPlan plan;
  try {
    plan = resolve_launch(config.train);
  } catch (const ConfigError& e) {
    std::cerr << "headcount train: " << e.what() << "\n";
    return 2;
  }
  StopSignal stop;
  TrainRequest request{config, options.out, options.resume, 0};
  request.stop_requested = [&stop] { return stop.requested(); };
  request.launch = plan;
  std::unique_ptr<LocalRanks> others;
  if (plan.launcher == "train.processes") {
    const int threads = std::max(1, torch::get_num_threads() / plan.world_size);
    set_compute_threads(threads);
    others = std::make_unique<LocalRanks>(options, plan, threads);
    request.start_other_ranks = [&others](int port) { others->start(port); };
  }
  nlohmann::json summary;
  try {
    summary = train(request, std::cout);
  } catch (...) {
    if (others) others->kill_all();
    throw;
  }
  const int failed = others ? others->wait_all() : 0;
  if (failed) {
    std::cerr << fmt::format("headcount train: {} of the other ranks failed; see {}/rank*.log\n", failed, options.out);
    return 1;
  }
  const auto& status = summary.at("status");
  if (status == "interrupted") return plan.rank == 0 ? stop.exit_status() : 0;
  return status == "finished" || status == "diverged" ? 0 : 1;
}

}  // namespace

Subcommand add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* sub = app.add_subcommand("train", "train a model; writes config, metrics, checkpoints and summary into --out");
  sub->add_option("--config", options->config_path, "YAML config (with --resume: default the run's own config.yaml)");
  sub->add_option("--out", options->out, "run folder")->required();
  sub->add_option("--set", options->overrides, "key=value override, any key of docs/config.md (repeatable)");
  sub->add_flag("--resume", options->resume, "continue from the run folder's checkpoint_last.pt");
  return {sub, [options]() -> int { return run_training(*options); }};
}

}  // namespace headcount
