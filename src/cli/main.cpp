// headcount: one program, one subcommand per job.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string>
#include <iostream>
#include <vector>
#include <thread>

#include "cli/commands.h"
#include "runtime/threads.h"

namespace {
// As PyTorch: OMP_NUM_THREADS when set (torchrun sets it to 1 unless it is set), else the
// cores shared among the ranks a launcher started on this machine (LOCAL_WORLD_SIZE).
int default_threads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const char* name : {"OMP_NUM_THREADS", "LOCAL_WORLD_SIZE"}) {
    const char* value = std::getenv(name);
    const int n = value ? std::atoi(value) : 0;
    if (n > 0) return std::string(name) == "OMP_NUM_THREADS" ? n : std::max(1, cores / n);
  }
  return cores;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"headcount: multi-head or single-head? Train, reshape and compare Transformers."};
  app.require_subcommand(1);
  int threads = default_threads();
  app.add_option("--threads", threads,
                 "threads for LibTorch's intra-op pool (default: OMP_NUM_THREADS, else all cores shared among a "
                 "launcher's LOCAL_WORLD_SIZE ranks)")
      ->check(CLI::PositiveNumber);

  const std::vector<headcount::Subcommand> subcommands{
      headcount::add_compare_command(app),
      headcount::add_train_command(app),
      headcount::add_translate_command(app),
      headcount::add_predict_command(app),
      headcount::add_analyze_command(app),
      headcount::add_evaluate_command(app),
      headcount::add_reshape_command(app),
      headcount::add_config_command(app),
      headcount::add_bench_command(app),
      headcount::add_export_command(app),
  };

  CLI11_PARSE(app, argc, argv);
  headcount::set_compute_threads(threads);
  try {
    for (const auto& sub : subcommands)
      if (sub.app->parsed()) return sub.run();
  } catch (const std::exception& e) {
    std::cerr << "headcount: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
