// Each subcommand registers its options on the CLI11 app and returns the action to run.
// The action's return value is the process exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace headcount {

using Command = std::function<int()>;
struct Subcommand {
  CLI::App* app;
  Command run;
};

Subcommand add_reshape_command(CLI::App& app);
Subcommand add_config_command(CLI::App& app);
Subcommand add_train_command(CLI::App& app);
Subcommand add_translate_command(CLI::App& app);
Subcommand add_predict_command(CLI::App& app);
Subcommand add_analyze_command(CLI::App& app);
Subcommand add_evaluate_command(CLI::App& app);
Subcommand add_bench_command(CLI::App& app);
Subcommand add_export_command(CLI::App& app);
Subcommand add_compare_command(CLI::App& app);

}  // namespace headcount
