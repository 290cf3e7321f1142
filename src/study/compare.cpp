#include "study/compare.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "eval/evaluate.h"
#include "model/checkpoint.h"
#include "study/inference_speed.h"
#include "study/report.h"
#include "train/run_folder.h"
#include "util/process.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

bool finished(const fs::path& run_dir) {
  const auto path = run_dir / "summary.json";
  if (!fs::exists(path)) return false;
  try {
    const auto status = read_json_file(path.string()).value("status", "");
    return status == "finished" || status == "diverged";
  } catch (const std::exception&) {
    return false;
  }
}

// One row of the grid table, read back from the run folder.
nlohmann::json collect_run(const GridRun& run, const fs::path& run_dir, const std::string& metric) {
  const auto& model = run.config.model;
  const int64_t layers = model.has_encoder() ? model.encoder.layers : model.decoder.layers;
  nlohmann::json row = {{"name", run.name},   {"heads", run.heads},   {"layers", layers},
                        {"architecture", fmt::format("{}L-{}H", layers, run.heads)},
                        {"scheme", to_string(run.scheme)}, {"seed", run.seed}, {"run_dir", run_dir.string()}};
  if (fs::exists(run_dir / "summary.json")) {
    const auto summary = read_json_file((run_dir / "summary.json").string());
    for (const char* key : {"status", "diverged_at_update", "updates", "parameters", "best_dev", "wall_time_s",
                            "train_time_s", "tokens_per_s", "peak_rss_mib", "test"})
      if (summary.contains(key)) row[key] = summary[key];
    if (summary.contains("test") && summary["test"].contains(metric)) row["test_metric"] = summary["test"][metric];
  } else {
    if (fs::exists(run_dir / "failed.txt")) {
      row["status"] = "failed";
      std::ifstream in(run_dir / "failed.txt");
      row["error"] = std::string(std::istreambuf_iterator<char>(in), {});
    } else {
      // Started (it has logged or saved a checkpoint) but not ended: running now, stopped, or
      // stopped with its machine.
      const bool started = fs::exists(run_dir / "metrics.jsonl") || fs::exists(run_dir / "checkpoint_last.pt");
      row["status"] = started ? "unfinished" : "not started";
    }
  }
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& line : read_metrics((run_dir / "metrics.jsonl").string()))
    if (line.value("kind", "") == "dev")
      curve.push_back({{"update", line["update"]}, {"elapsed_s", line["elapsed_s"]}, {"loss", line.value("dev_loss", 0.0)},
                       {"metric", line.contains("dev_" + metric) ? line["dev_" + metric] : nlohmann::json()}});
  row["dev_curve"] = curve;
  return row;
}

}  // namespace

nlohmann::json compare(const CompareRequest& request, std::ostream& log) {
  auto preset = load_preset(request.preset);
  if (request.seeds > 0) preset.seeds = request.seeds;
  const auto grid = expand_grid(preset, request.overrides);
  const fs::path out(request.out);
  fs::create_directories(out / "runs");
  fs::create_directories(out / "configs");
  const std::string metric = grid.front().config.data.task == "cmudict" ? "wer" : "bleu";
  const int threads = request.threads > 0 ? request.threads : torch::get_num_threads();
  log << fmt::format("compare {}: {} runs into {}\n", preset.name, grid.size(), out.string());

  const int jobs = std::max(1, std::min<int>(request.jobs, static_cast<int>(grid.size())));
  const int threads_per_run = std::max(1, threads / jobs);
  if (jobs > 1) log << fmt::format("{} runs at a time, {} thread{} each\n", jobs, threads_per_run, threads_per_run > 1 ? "s" : "");

  // Workers take the next unfinished run in training order; the mutex guards the queue,
  // the count and the log, never a training.
  const auto order = training_order(grid);
  std::mutex mutex;
  size_t next = 0;
  int64_t started = 0;
  auto stopping = [&] { return request.stop_requested && request.stop_requested(); };
  auto take_next_run = [&]() -> std::optional<size_t> {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping()) return std::nullopt;
    for (; next < order.size() && finished(out / "runs" / grid[order[next]].name); ++next)
      log << fmt::format("[{}/{}] {}: finished earlier, skipped\n", order[next] + 1, grid.size(), grid[order[next]].name);
    if (next == order.size() || (request.max_runs >= 0 && started >= request.max_runs)) return std::nullopt;
    ++started;
    return order[next++];
  };
  // One run, in a process of its own: a crash stays in its run and its peak memory is its own.
  auto train_run = [&](size_t i) {
    const auto& run = grid[i];
    const fs::path run_dir = out / "runs" / run.name;
    const auto config_path = (out / "configs" / (run.name + ".yaml")).string();
    write_file_atomically(config_path, to_yaml(run.config));
    fs::create_directories(run_dir);
    fs::remove(run_dir / "failed.txt");
    {
      std::lock_guard<std::mutex> lock(mutex);
      log << fmt::format("[{}/{}] {}: training (log: {})\n", i + 1, grid.size(), run.name, (run_dir / "train.log").string())
          << std::flush;
    }
    const std::vector<std::string> arguments{request.program, "--threads", std::to_string(threads_per_run),
                                             "train", "--config", config_path, "--out", run_dir.string(), "--resume"};
    int status = 0;
    std::string error;
    try {
      status = wait_for_process(start_process(arguments, (run_dir / "train.log").string(), /*hold_stop_signals=*/true),
                                stopping);
    } catch (const std::exception& e) {
      status = -1, error = e.what();
    }
    // 130 and 143: train stopped on SIGINT or SIGTERM (checkpoint saved), whoever sent it.
    const bool stopped = error.empty() && (stopping() || status == 130 || status == 143);
    std::lock_guard<std::mutex> lock(mutex);
    if (!finished(run_dir) && stopped) {
      log << fmt::format("    {}: stopped; the same command resumes it from its checkpoint\n", run.name) << std::flush;
    } else if (status != 0 || !finished(run_dir)) {
      std::ofstream(run_dir / "failed.txt")
          << (error.empty() ? fmt::format("training exited with status {}; see train.log\n", status) : error + "\n");
      log << fmt::format("    {} failed (status {}); the grid goes on\n", run.name, status);
    } else {
      const auto summary = read_json_file((run_dir / "summary.json").string());
      log << fmt::format("    {}: {} after {} updates\n", run.name, summary.value("status", "?"), summary.value("updates", 0))
          << std::flush;
    }
  };
  auto worker = [&] {
    while (const auto i = take_next_run()) {
      try {
        train_run(*i);
      } catch (const std::exception& e) {  // the run folder could not be written: the grid goes on
        std::lock_guard<std::mutex> lock(mutex);
        log << fmt::format("    {} failed: {}\n", grid[*i].name, e.what()) << std::flush;
      }
    }
  };
  std::vector<std::thread> workers;
  for (int j = 0; j < jobs; ++j) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  if (stopping()) log << "stopped on request: run the same command again to go on\n";
  // Complete when every run has finished, diverged or failed (a failed run is reported,
  // and re-running the command tries it again).
  const bool interrupted = std::any_of(grid.begin(), grid.end(), [&](const GridRun& run) {
    return !finished(out / "runs" / run.name) && !fs::exists(out / "runs" / run.name / "failed.txt");
  });

  nlohmann::json results = {{"preset", preset.name},
                            {"description", preset.description},
                            {"command", request.command_line},
                            {"threads", threads},
                            {"jobs", jobs},
                            {"threads_per_run", threads_per_run},
                            {"metric", metric},
                            {"lower_is_better", lower_is_better(metric)},
                            {"shallow_heads", grid.front().heads},
                            {"complete", !interrupted},
                            {"runs", nlohmann::json::array()},
                            {"inference", nlohmann::json::array()}};
  for (const auto& run : grid) results["runs"].push_back(collect_run(run, out / "runs" / run.name, metric));

  // Inference speed: one trained model per architecture, all measured in this process.
  std::map<int64_t, std::string> checkpoint_of_heads;
  for (const auto& row : results["runs"]) {
    const fs::path dir = row["run_dir"].get<std::string>();
    for (const char* name : {"checkpoint_best.pt", "checkpoint_last.pt"})
      if (!checkpoint_of_heads.count(row["heads"]) && fs::exists(dir / name))
        checkpoint_of_heads[row["heads"]] = (dir / name).string();
  }
  if (!interrupted && !checkpoint_of_heads.empty()) {
    torch::set_num_threads(threads);
    std::vector<int64_t> heads;
    std::vector<std::string> architectures;
    std::vector<Transformer> models;
    for (auto it = checkpoint_of_heads.rbegin(); it != checkpoint_of_heads.rend(); ++it) {
      models.push_back(load_checkpoint(it->second).model);
      const auto& c = models.back()->config();
      heads.push_back(it->first);
      architectures.push_back(fmt::format("{}L-{}H", c.has_encoder() ? c.encoder.layers : c.decoder.layers, it->first));
    }
    std::vector<nlohmann::json> rows(models.size(), nlohmann::json::array());
    for (int64_t batch : preset.inference.batch_sizes)
      for (int64_t length : preset.inference.lengths) {
        const auto timings = measure_inference(models, batch, length, preset.inference.repeats);
        for (size_t m = 0; m < models.size(); ++m) {
          const auto& t = timings[m];
          rows[m].push_back({{"architecture", architectures[m]},
                             {"heads", heads[m]},
                             {"batch", batch},
                             {"length", length},
                             {"median_ms", t.median_ms},
                             {"sentences_per_s", t.sentences_per_s},
                             {"tokens_per_s", t.tokens_per_s}});
        }
      }
    // Rows grouped by architecture, as the report's table shows them.
    for (size_t m = 0; m < models.size(); ++m)
      for (const auto& row : rows[m]) {
        results["inference"].push_back(row);
        log << fmt::format("inference {} batch {:>3} length {:>3}: {:.1f} ms, {:.0f} tokens/s\n", architectures[m],
                           row["batch"].get<int64_t>(), row["length"].get<int64_t>(), row["median_ms"].get<double>(),
                           row["tokens_per_s"].get<double>());
      }
  }
  write_report(results, out.string());
  write_file_atomically((out / "results.json").string(), results.dump(2) + "\n");
  log << fmt::format("report: {}\n", (out / "report.md").string());
  return results;
}

}  // namespace headcount
