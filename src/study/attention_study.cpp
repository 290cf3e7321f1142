#include "study/attention_study.h"

#include <filesystem>
#include <map>

#include "model/checkpoint.h"
#include "run/run_folder.h"
#include "task/task_factory.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {
constexpr int64_t kExamples = 200;  // dev examples each model is analysed on
}  // namespace

std::vector<ArchitectureAttention> analyze_grid(const std::vector<RunRow>& runs, const std::vector<GridRun>& grid,
                                                const MetricInfo& metric, const Runtime& runtime) {
  std::map<int64_t, size_t, std::greater<>> best;  // heads -> row, the shallow model first
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    if (r.status != RunStatus::Finished || !r.test_metric || !fs::exists(RunFolder(r.run_dir).checkpoint(CheckpointChoice::Best))) continue;
    if (!best.count(r.heads) || metric.better(*r.test_metric, *runs[best[r.heads]].test_metric)) best[r.heads] = i;
  }
  std::vector<ArchitectureAttention> out;
  for (const auto& [heads, i] : best) {
    const auto& row = runs[i];
    auto task = make_task(grid[i].config, runtime);
    task->load(row.run_dir, /*create=*/false);
    auto model = load_checkpoint(RunFolder(row.run_dir).checkpoint(CheckpointChoice::Best), runtime.device).model;
    out.push_back({row.architecture, heads, row.layers, row.name,
                   analyze_attention(model, task->input_batches(Split::Valid, 0, kExamples), AnalysisOptions{})});
  }
  return out;
}

}  // namespace headcount
