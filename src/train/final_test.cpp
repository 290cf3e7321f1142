#include "train/final_test.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <ostream>

#include "model/checkpoint.h"
#include "runtime/autocast.h"

namespace fs = std::filesystem;

namespace headcount {

Metrics evaluate_dev(const Task& task, Transformer& model, const Runtime& runtime, const TrainConfig& train) {
  EvaluationOptions options;
  options.generate = train.valid_decode_limit != 0;
  options.generate_limit = train.valid_decode_limit;
  const AutocastScope mixed_precision(runtime);
  return task.evaluate(model, Split::Valid, options);
}

namespace {

// The kept checkpoints averaged into checkpoint_average.pt and scored on dev; returns the
// checkpoint to test.
std::string average_or_best(const RunFolder& folder, const Task& task, const Runtime& runtime, const TrainConfig& train,
                            const TrainingPolicy& policy, const TrainingState& state, RunSummary& summary,
                            std::ostream& log) {
  const auto best_path = folder.checkpoint(CheckpointChoice::Best);
  if (!policy.keeps_checkpoints() || state.kept_updates.empty()) return best_path;
  std::vector<std::string> paths;
  for (auto u : state.kept_updates) paths.push_back(folder.checkpoint_at_update(u));
  const auto average_path = folder.checkpoint(CheckpointChoice::Average);
  average_checkpoints(paths, average_path);
  auto average_model = load_checkpoint(average_path, runtime.device).model;
  const auto& metric = policy.metric().key;
  const double average_value = evaluate_dev(task, average_model, runtime, train).at(metric).get<double>();
  const bool average_wins = policy.average_wins(average_value, state.best);
  summary.average_dev = {{"metric", metric}, {"value", average_value}, {"updates", state.kept_updates}};
  log << fmt::format("averaged the checkpoints of updates {}: dev {} {:.4f} against the best {:.4f}; testing the {}\n",
                     nlohmann::json(state.kept_updates).dump(), metric, average_value, state.best,
                     average_wins ? "average" : "best checkpoint");
  return average_wins ? average_path : best_path;
}

}  // namespace

void test_finished_run(const RunFolder& folder, const Task& task, const Runtime& runtime, const RunConfig& config,
                       const TrainingPolicy& policy, const TrainingState& state, RunSummary& summary, std::ostream& log) {
  const auto chosen = average_or_best(folder, task, runtime, config.train, policy, state, summary, log);
  auto test_model = load_checkpoint(chosen, runtime.device).model;
  const auto test_start = std::chrono::steady_clock::now();
  EvaluationOptions options;
  options.beam = config.eval.beam;
  Metrics test;
  {
    const AutocastScope mixed_precision(runtime);
    test = task.evaluate(test_model, Split::Test, options);
  }
  test["checkpoint"] = fs::path(chosen).filename().string();
  test["beam"] = config.eval.beam;
  summary.test = test;
  log << fmt::format("test  ({}, beam {}): {}  ({:.1f}s)\n", test["checkpoint"].get<std::string>(), config.eval.beam,
                     test.dump(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count());
}

}  // namespace headcount
