// headcount train: one training run into one run folder.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "config/run_config.h"
#include "train/trainer.h"

namespace headcount {

namespace {
struct TrainOptions {
  std::string config_path, out;
  std::vector<std::string> overrides;
  bool resume = false;
};
}  // namespace

Subcommand add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* sub = app.add_subcommand("train", "train a model; writes config, metrics, checkpoints and summary into --out");
  sub->add_option("--config", options->config_path, "YAML config (with --resume: default the run's own config.yaml)");
  sub->add_option("--out", options->out, "run folder")->required();
  sub->add_option("--set", options->overrides, "key=value override, any key of docs/config.md (repeatable)");
  sub->add_flag("--resume", options->resume, "continue from the run folder's checkpoint_last.pt");
  return {sub, [options]() -> int {
            std::string path = options->config_path;
            const auto own = std::filesystem::path(options->out) / "config.yaml";
            if (path.empty() && options->resume && std::filesystem::exists(own)) path = own.string();
            if (path.empty() && !options->resume) {
              std::cerr << "headcount train: --config is required for a new run\n";
              return 2;
            }
            RunConfig config;
            try {
              config = load_config(path, options->overrides);
            } catch (const ConfigError& e) {
              std::cerr << "headcount train: " << e.what() << "\n";
              return 2;
            }
            auto summary = train({config, options->out, options->resume, 0}, std::cout);
            return summary.at("status") == "finished" || summary.at("status") == "diverged" ? 0 : 1;
          }};
}

}  // namespace headcount
