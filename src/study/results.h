// What a comparison collects, as typed rows: one per run of the grid (read back from its
// run folder) and one per inference timing, plus what the report derives from them.
// results.json is StudyResults::to_json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analysis/attention_analysis.h"
#include "run/run_folder.h"
#include "task/task.h"

namespace headcount {

struct GridRun;

struct DevPoint {
  int64_t update = 0;
  double elapsed_s = 0;
  double loss = 0;
  std::optional<double> metric;  // the primary metric, when dev evaluation generated
};

struct RunRow {
  std::string name;          // "12L-1H-admin-s1"
  std::string architecture;  // "12L-1H"
  std::string scheme;
  int64_t heads = 0, layers = 0, seed = 0;
  // Downstream runs: the grid run fine-tuned (empty: trained from scratch) and the
  // fine-tuning seed.
  std::string pretrained;
  int64_t finetune_seed = 0;
  std::string run_dir;
  // Finished or Diverged (from summary.json), Failed (with error), Unfinished (started, not
  // ended), NotStarted, Skipped (a fine-tuning run whose pretraining run did not finish)
  RunStatus status = RunStatus::NotStarted;
  std::string error;
  bool has_summary = false;  // the run ended and wrote summary.json: the fields below are its
  std::optional<int64_t> diverged_at_update, updates, parameters;
  std::optional<double> best_dev, wall_time_s, train_time_s, tokens_per_s, peak_rss_mib;
  std::optional<double> test_metric;  // the primary metric on test
  nlohmann::json best_dev_summary, test;  // as summary.json has them
  std::vector<DevPoint> dev_curve;

  // Runs that have not ended yet are neither results nor failures.
  bool ended() const { return status != RunStatus::Unfinished && status != RunStatus::NotStarted; }
};

struct InferenceRow {
  std::string architecture;
  int64_t heads = 0, batch = 0, length = 0;
  double median_ms = 0, sentences_per_s = 0, tokens_per_s = 0;
};

// The deeper model's gain over the shallow one (same scheme), seed by seed.
struct Gain {
  std::string scheme;
  int64_t heads = 0, unrolled = 0;  // heads per layer; shallow heads / heads
  double gain = 0, sd = 0;          // in metric points, positive: the deeper model is better
  int64_t seeds = 0;
};

// The fine-tuning runs of one downstream task (a pretraining grid's presets).
struct DownstreamResults {
  std::string name;
  MetricInfo metric;
  std::vector<RunRow> runs;  // from each pretrained run, and from scratch
  std::vector<std::string> findings;  // written by the report
};

// RQ1 for one architecture of the grid: its best finished run looked inside.
struct ArchitectureAttention {
  std::string architecture;
  int64_t heads = 0, layers = 0;
  std::string run;  // the run analysed
  AttentionAnalysis analysis;
};

struct StudyResults {
  std::string preset, description, command;
  int threads = 1, jobs = 1, threads_per_run = 1;
  MetricInfo metric;
  int64_t shallow_heads = 0;
  bool complete = false;
  // What the grid's models make: a decoder generates tokens (seq2seq), an encoder does not
  // (masked-LM); the report words speed and decoding after it.
  bool generates = true;
  std::vector<RunRow> runs;
  std::vector<InferenceRow> inference;
  std::vector<DownstreamResults> downstream;
  std::vector<ArchitectureAttention> attention;  // RQ1, measured when the grid is complete
  // Written by the report:
  std::vector<std::string> findings;
  std::vector<Gain> gains;
  std::vector<std::string> figure_notes;

  nlohmann::json to_json() const;
  // Missing optional fields stay unset; throws nlohmann's errors on a missing required one.
  static StudyResults from_json(const nlohmann::json& json);
};

// One run's row, read back from its run folder (summary, metrics, failed and killed notes).
RunRow read_run_row(const GridRun& run, const std::string& run_dir, const MetricInfo& metric);

}  // namespace headcount
