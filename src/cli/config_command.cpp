// headcount config: print the resolved configuration, or the table of every key.
#include <iostream>

#include "cli/commands.h"
#include "config/run_config.h"
#include "task/task_factory.h"

namespace headcount {

namespace {
struct ConfigOptions {
  std::string path;
  std::vector<std::string> overrides;
  bool markdown = false;
};
}  // namespace

Subcommand add_config_command(CLI::App& app) {
  auto options = std::make_shared<ConfigOptions>();
  auto* sub = app.add_subcommand("config", "validate a config and print it resolved, or list every key");
  sub->add_option("--config", options->path, "YAML config file");
  sub->add_option("--set", options->overrides, "key=value override (repeatable)");
  sub->add_flag("--markdown", options->markdown, "print docs/config.md: every key with type, default and meaning");
  return {sub, [options]() -> int {
    if (options->markdown) {
      std::cout << config_markdown();
      return 0;
    }
    try {
      const auto config = load_config(options->path, options->overrides);
      make_task(config, make_runtime(config.train.device, config.train.precision),
                options->path.empty() ? "config" : options->path);  // checks the task's own keys
      std::cout << to_yaml(config);
    } catch (const ConfigError& e) {
      std::cerr << "headcount config: " << e.what() << "\n";
      return 2;
    }
    return 0;
  }};
}

}  // namespace headcount
