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
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "config/run_config.h"
#include "run/run_folder.h"
#include "runtime/threads.h"
#include "task/task_factory.h"
#include "train/launch.h"
#include "train/local_ranks.h"
#include "train/trainer.h"
#include "util/stop_signal.h"

namespace headcount {

namespace fs = std::filesystem;

namespace {

struct TrainOptions {
  std::string config_path, out;
  std::vector<std::string> overrides;
  bool resume = false;
};

// What a run starts from: its config (the file given, or the run's own config.yaml when
// resuming, with the overrides), where this process sits in its group, and the device and
// precision it computes on, built once here and handed to the trainer. All checked in full
// (the task's keys too) before anything is written. Returns the exit status 2 after
// printing the problem, or 0.
struct Resolved {
  RunConfig config;
  LaunchPlan plan;
  Runtime runtime;
};

int resolve(const TrainOptions& o, Resolved& out) {
  std::string path = o.config_path;
  const auto own = RunFolder(o.out).config();
  if (path.empty() && o.resume && fs::exists(own)) path = own;
  if (path.empty() && !o.resume) {
    std::cerr << "headcount train: --config is required for a new run\n";
    return 2;
  }
  try {
    out.config = load_config(path, o.overrides);
    out.plan = resolve_launch(out.config.train);
  } catch (const ConfigError& e) {
    std::cerr << "headcount train: " << e.what() << "\n";
    return 2;
  }
  try {
    out.runtime = make_runtime(out.config.train.device, out.config.train.precision, out.plan.local_rank);
  } catch (const std::invalid_argument& e) {  // the device or precision, on this machine
    std::cerr << "headcount train: train.device/train.precision: " << e.what() << "\n";
    return 2;
  }
  try {
    make_task(out.config, out.runtime, path.empty() ? "config" : path);
  } catch (const ConfigError& e) {
    std::cerr << "headcount train: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

int run_training(const TrainOptions& options) {
  Resolved resolved;
  if (int status = resolve(options, resolved)) return status;
  const auto& plan = resolved.plan;
  StopSignal stop;
  TrainRequest request;
  request.config = resolved.config;
  request.run_dir = options.out;
  request.resume = options.resume;
  request.stop_requested = [&stop] { return stop.requested(); };
  request.launch = plan;
  request.runtime = resolved.runtime;
  std::unique_ptr<LocalRanks> others;
  if (plan.launcher == Launcher::TrainProcesses) {
    const int threads = std::max(1, torch::get_num_threads() / plan.world_size);
    set_compute_threads(threads);
    others = std::make_unique<LocalRanks>(options.out, options.resume, plan, threads);
    request.start_other_ranks = [&others](int port) { others->start(port); };
  }
  RunSummary summary;
  try {
    summary = Trainer(request, std::cout).run();
  } catch (...) {
    if (others) others->kill_all();
    throw;
  }
  const int failed = others ? others->wait_all() : 0;
  if (failed) {
    std::cerr << fmt::format("headcount train: {} of the other ranks failed; see {}/rank*.log\n", failed, options.out);
    return 1;
  }
  if (summary.status == RunStatus::Interrupted) return plan.rank == 0 ? stop.exit_status() : 0;
  return trained_to_end(summary.status) ? 0 : 1;
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
