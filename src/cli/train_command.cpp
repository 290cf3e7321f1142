// headcount train: one training run into one run folder.
//
// With train.processes = N > 1 this process is rank 0 of a data-parallel group: once the
// run folder holds the resolved config and vocabularies it starts ranks 1..N-1 as copies of
// this program (--rank, --rendezvous; their output in RUN/rankR.log), splits the --threads
// between the ranks, and waits for them at the end.
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
#include "task/task_factory.h"
#include "train/data_parallel.h"
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
  int rank = 0;
  std::string rendezvous;
};
}  // namespace

Subcommand add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* sub = app.add_subcommand("train", "train a model; writes config, metrics, checkpoints and summary into --out");
  sub->add_option("--config", options->config_path, "YAML config (with --resume: default the run's own config.yaml)");
  sub->add_option("--out", options->out, "run folder")->required();
  sub->add_option("--set", options->overrides, "key=value override, any key of docs/config.md (repeatable)");
  sub->add_flag("--resume", options->resume, "continue from the run folder's checkpoint_last.pt");
  // Set by rank 0 when it starts the other ranks of a data-parallel run; not for users.
  sub->add_option("--rank", options->rank)->group("");
  sub->add_option("--rendezvous", options->rendezvous)->group("");
  return {sub, [options]() -> int {
            std::string path = options->config_path;
            const auto own = fs::path(options->out) / "config.yaml";
            if (path.empty() && options->resume && fs::exists(own)) path = own.string();
            if (path.empty() && !options->resume) {
              std::cerr << "headcount train: --config is required for a new run\n";
              return 2;
            }
            RunConfig config;
            try {
              config = load_config(path, options->overrides);
              make_task(config, make_runtime(config.train.device, config.train.precision), path.empty() ? "config" : path);
            } catch (const ConfigError& e) {
              std::cerr << "headcount train: " << e.what() << "\n";
              return 2;
            }
            // Refused before anything is written into the run folder.
            if (config.train.processes > 1 && !data_parallel_available()) {
              std::cerr << "headcount train: train.processes is " << config.train.processes
                        << ", but this headcount was built without c10d's Gloo backend (Debian: apt-get install "
                           "libgloo-dev, then rebuild); set train.processes: 1\n";
              return 2;
            }
            StopSignal stop;
            TrainRequest request{config, options->out, options->resume, 0};
            request.stop_requested = [&stop] { return stop.requested(); };
            request.rank = options->rank;
            request.rendezvous_file = options->rendezvous;
            const int ranks = static_cast<int>(config.train.processes);
            std::vector<pid_t> others;
            if (ranks > 1 && options->rank == 0) {
              const int threads = std::max(1, torch::get_num_threads() / ranks);
              torch::set_num_threads(threads);
              fs::create_directories(options->out);
              request.rendezvous_file = fs::absolute(fs::path(options->out) / "rendezvous").string();
              fs::remove(request.rendezvous_file);  // a group's file must be fresh
              request.start_other_ranks = [&, threads] {
                const std::string program = fs::read_symlink("/proc/self/exe").string();
                for (int r = 1; r < ranks; ++r) {
                  std::vector<std::string> arguments{program,   "--threads", std::to_string(threads),
                                                     "train",   "--config",  own.string(),
                                                     "--out",   options->out, "--rank",
                                                     std::to_string(r), "--rendezvous", request.rendezvous_file};
                  if (options->resume) arguments.push_back("--resume");
                  others.push_back(start_process(arguments, (fs::path(options->out) / fmt::format("rank{}.log", r)).string(),
                                                 /*hold_stop_signals=*/true));
                }
              };
            }
            nlohmann::json summary;
            try {
              summary = train(request, std::cout);
            } catch (...) {
              // The other ranks wait inside a collective that would only time out in an hour.
              for (pid_t pid : others) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
              }
              if (!others.empty()) fs::remove(request.rendezvous_file);
              throw;
            }
            int failed = 0;
            for (pid_t pid : others) failed += wait_for_process(pid) != 0;
            if (ranks > 1 && options->rank == 0) fs::remove(request.rendezvous_file);
            if (failed) std::cerr << fmt::format("headcount train: {} of the other ranks failed; see {}/rank*.log\n", failed, options->out);
            const auto& status = summary.at("status");
            if (failed) return 1;
            if (status == "interrupted") return options->rank == 0 ? stop.exit_status() : 0;
            return status == "finished" || status == "diverged" ? 0 : 1;
          }};
}

}  // namespace headcount
