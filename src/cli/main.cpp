// headcount: one program, one subcommand per job.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>
#include <thread>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"headcount: multi-head or single-head? Train, reshape and compare Transformers."};
  app.require_subcommand(1);
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "threads for LibTorch's intra-op pool (default: all cores)")
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
  };

  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  try {
    for (const auto& sub : subcommands)
      if (sub.app->parsed()) return sub.run();
  } catch (const std::exception& e) {
    std::cerr << "headcount: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
