// A comparison preset: one task (any train config) and the grid around it.
//
//   config: configs/g2p-demo.yaml   # the shallow multi-head config every run starts from
//   heads: [1]                      # heads per layer to reshape into (the config's own
//                                   # head count is always in the grid: the shallow model)
//   schemes: [post-ln, admin]
//   seeds: 1
//   set: {train.max_updates: 400}   # overrides for every run (before --set on the command line)
//   inference: {batch_sizes: [1, 8, 64], lengths: [8, 24], repeats: 9}   # rounds, each timing every architecture once
//   downstream:                     # pretraining grids: fine-tune every run on each task
//     - {name: spam, config: configs/spam.yaml, seeds: 1, scratch: true, set: {train.max_updates: 300}}
//
// Every run of a grid uses identical hyperparameters; only architecture and scheme differ.
// A downstream task's runs start from each run of the grid (train.init_from) with the same
// model and its own data and training settings, `seeds` fine-tuning seeds each; with
// scratch, every architecture and scheme is also trained on it from random weights, with
// the same recipe and seeds, as the baseline pretraining has to beat.
#pragma once

#include <string>
#include <vector>

#include "config/run_config.h"

namespace headcount {

struct InferenceGrid {
  std::vector<int64_t> batch_sizes{1, 8, 64};
  std::vector<int64_t> lengths{8, 24};  // source tokens: a short and a long input
  int64_t repeats = 9;
};

struct DownstreamTask {
  std::string name;
  std::string config_path;  // its fine-tuning config (the model comes from the pretraining run)
  int64_t seeds = 1;
  bool scratch = false;
  std::vector<std::string> overrides;  // key=value, for its runs only
};

struct Preset {
  std::string name;
  std::string description;
  std::string config_path;
  std::vector<int64_t> heads;
  std::vector<ResidualScheme> schemes;
  int64_t seeds = 1;
  std::vector<std::string> overrides;  // key=value
  InferenceGrid inference;
  std::vector<DownstreamTask> downstream;
};

// name: a file path, or a name looked up as configs/presets/NAME.yaml. Throws ConfigError
// naming the file, line and key.
Preset load_preset(const std::string& name);

// One run of the grid.
struct GridRun {
  std::string name;  // e.g. "24L-1H-admin-s1"
  int64_t heads = 0;
  int64_t seed = 0;
  ResidualScheme scheme = ResidualScheme::PostLn;
  RunConfig config;
  // Downstream runs: the task's name, and the grid run they start from (empty: from scratch).
  std::string downstream;
  std::string pretrained;
  int64_t finetune_seed = 0;
};

// The base config with the preset's and the caller's overrides, reshaped to every head
// count, times schemes and seeds; shallow (most heads) first. Validates every run's config.
std::vector<GridRun> expand_grid(const Preset& preset, const std::vector<std::string>& extra_overrides);

// The downstream runs of a preset for the grid's runs (see DownstreamTask). The command
// line's overrides are the grid's only: each task has its own `set`.
std::vector<GridRun> expand_downstream(const Preset& preset, const std::vector<GridRun>& grid);

// Indices into grid in the order compare trains them: every cell's first seed before any
// cell's second, so a study stopped part-way already compares every architecture and scheme.
std::vector<size_t> training_order(const std::vector<GridRun>& grid);

}  // namespace headcount
