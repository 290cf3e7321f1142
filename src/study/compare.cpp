#include "study/compare.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "runtime/threads.h"
#include "study/attention_study.h"
#include "study/grid_runner.h"
#include "study/inference_speed.h"
#include "study/report.h"
#include "task/task_factory.h"
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

// The grid's rows read back from the run folders, with what the report says of the study.
StudyResults collect_results(const Preset& preset, const std::vector<GridRun>& grid, const CompareRequest& request,
                             const GridRunnerOptions& options, int threads, const MetricInfo& metric) {
  StudyResults results;
  results.preset = preset.name;
  results.description = preset.description;
  results.command = request.command_line;
  results.threads = threads;
  results.jobs = options.jobs;
  results.threads_per_run = options.threads_per_run;
  results.metric = metric;
  results.shallow_heads = grid.front().heads;
  results.generates = grid.front().config.model.has_decoder();
  for (const auto& run : grid)
    results.runs.push_back(read_run_row(run, (fs::path(options.out) / "runs" / run.name).string(), metric));
  // Complete when every run has finished, diverged or failed (a failed run is reported,
  // and re-running the command tries it again).
  results.complete = std::all_of(results.runs.begin(), results.runs.end(), [](const RunRow& r) { return r.ended(); });
  return results;
}

// The rows of one downstream task. A run whose pretraining run ended without finishing
// (diverged or failed) is never started: its row says so and counts as ended.
DownstreamResults collect_downstream(const DownstreamTask& task, const std::vector<GridRun>& downstream,
                                     const std::vector<RunRow>& grid_rows, const fs::path& out, const Runtime& runtime) {
  DownstreamResults d;
  d.name = task.name;
  for (const auto& run : downstream) {
    if (run.downstream != task.name) continue;
    if (d.runs.empty()) d.metric = make_task(run.config, runtime)->primary_metric();
    auto row = read_run_row(run, (out / "runs" / run.name).string(), d.metric);
    for (const auto& from : grid_rows)
      if (from.name == run.pretrained && from.ended() && from.status != RunStatus::Finished && row.status == RunStatus::NotStarted)
        row.status = RunStatus::Skipped, row.error = fmt::format("its pretraining run {} {}", from.name, to_string(from.status));
    d.runs.push_back(std::move(row));
  }
  return d;
}

}  // namespace

nlohmann::json compare(const CompareRequest& request, std::ostream& log) {
  auto preset = load_preset(request.preset);
  if (request.seeds > 0) preset.seeds = request.seeds;
  const auto grid = expand_grid(preset, request.overrides);
  const auto downstream = expand_downstream(preset, grid);
  const fs::path out(request.out);
  fs::create_directories(out / "runs");
  fs::create_directories(out / "configs");
  const auto& base = grid.front().config;
  const Runtime runtime = make_runtime(base.train.device, base.train.precision);
  const int threads = request.threads > 0 ? request.threads : torch::get_num_threads();
  log << fmt::format("compare {}: {} runs into {}{}\n", preset.name, grid.size(), out.string(),
                     downstream.empty() ? "" : fmt::format(", then {} downstream runs", downstream.size()));

  GridRunnerOptions options;
  options.program = request.program;
  options.out = out.string();
  options.jobs = std::max(1, std::min<int>(request.jobs, static_cast<int>(grid.size())));
  options.threads_per_run = std::max(1, threads / options.jobs);
  options.max_runs = request.max_runs;
  options.stop_requested = request.stop_requested;
  options.stop_grace_seconds = request.stop_grace_seconds;
  if (options.jobs > 1)
    log << fmt::format("{} runs at a time, {} thread{} each\n", options.jobs, options.threads_per_run,
                       options.threads_per_run > 1 ? "s" : "");
  const int64_t started = train_grid(grid, options, log);
  if (!downstream.empty() && !(request.stop_requested && request.stop_requested())) {
    if (options.max_runs >= 0) options.max_runs = std::max<int64_t>(0, options.max_runs - started);
    train_grid(downstream, options, log);
  }
  const bool stopping = request.stop_requested && request.stop_requested();
  if (stopping) log << "stopped on request: run the same command again to go on\n";

  auto results =
      collect_results(preset, grid, request, options, threads, make_task(base, runtime)->primary_metric());
  const bool grid_complete = results.complete;
  for (const auto& task : preset.downstream) {
    auto d = collect_downstream(task, downstream, results.runs, out, runtime);
    results.complete = results.complete && std::all_of(d.runs.begin(), d.runs.end(), [](const RunRow& r) { return r.ended(); });
    results.downstream.push_back(std::move(d));
  }

  // Inference speed: one trained model per architecture, all measured in this process.
  if (grid_complete) {
    set_compute_threads(threads);
    results.inference = measure_grid_inference(results.runs, preset.inference, runtime);
    for (const auto& row : results.inference)
      log << fmt::format("inference {} batch {:>3} length {:>3}: {:.1f} ms, {:.0f} tokens/s\n", row.architecture,
                         row.batch, row.length, row.median_ms, row.tokens_per_s);
    results.attention = analyze_grid(results.runs, grid, results.metric, runtime);
    for (const auto& a : results.attention)
      log << fmt::format("attention of {} ({}): analysed on {} dev examples\n", a.architecture, a.run, a.analysis.examples);
  }
  write_report(results, out.string());
  auto json = results.to_json();
  write_file_atomically((out / "results.json").string(), json.dump(2) + "\n");
  log << fmt::format("report: {}\n", (out / "report.md").string());
  return json;
}

}  // namespace headcount
