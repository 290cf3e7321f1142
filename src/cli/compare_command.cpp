// headcount compare: the study as one command. Ctrl-C or SIGTERM stops it cleanly: no
// further run starts, the runs in training save a checkpoint, and the report shows what is
// done; the same command run again goes on (exit status 130 or 143 until then).
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "study/compare.h"
#include "util/stop_signal.h"

namespace headcount {

Subcommand add_compare_command(CLI::App& app) {
  auto request = std::make_shared<CompareRequest>();
  auto* sub = app.add_subcommand(
      "compare", "train a preset's grid (shallow multi-head vs reshaped deep, residual schemes, seeds) and write a report");
  sub->add_option("--preset", request->preset, "preset name (configs/presets/NAME.yaml) or file")->required();
  sub->add_option("--out", request->out, "output folder: runs/, report.md, results.json, figures/")->required();
  sub->add_option("--seeds", request->seeds, "seeds per cell (default: the preset's)");
  sub->add_option("--set", request->overrides, "key=value override for every run (repeatable)");
  sub->add_option("--jobs", request->jobs, "runs trained at a time, sharing --threads (default 1)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-runs", request->max_runs,
                  "train at most N runs in this call, then report what is done (0: report only; re-run to go on)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--stop-grace", request->stop_grace_seconds,
                  "seconds a run may take to stop after Ctrl-C/SIGTERM/SIGHUP before it is killed (default 300)")
      ->check(CLI::PositiveNumber);
  return {sub, [request]() -> int {
            request->program = std::filesystem::read_symlink("/proc/self/exe").string();
            request->threads = torch::get_num_threads();
            request->command_line = "headcount compare --preset " + request->preset + " --out " + request->out;
            if (request->seeds > 0) request->command_line += " --seeds " + std::to_string(request->seeds);
            for (const auto& o : request->overrides) request->command_line += " --set " + o;
            if (request->jobs > 1) request->command_line += " --jobs " + std::to_string(request->jobs);
            StopSignal stop;
            request->stop_requested = [&stop] { return stop.requested(); };
            try {
              compare(*request, std::cout);
            } catch (const ConfigError& e) {
              std::cerr << "headcount compare: " << e.what() << "\n";
              return 2;
            }
            return stop.requested() ? stop.exit_status() : 0;
          }};
}

}  // namespace headcount
