// A comparison preset: one task (any train config) and the grid around it.
//
//   config: configs/g2p-demo.yaml   # the shallow multi-head config every run starts from
//   heads: [1]                      # heads per layer to reshape into (the config's own
//                                   # head count is always in the grid: the shallow model)
//   schemes: [post-ln, admin]
//   seeds: 1
//   set: {train.max_updates: 400}   # overrides for every run (before --set on the command line)
//   inference: {batch_sizes: [1, 8, 64], lengths: [8, 24], repeats: 9}   # rounds, each timing every architecture once
//
// Every run of a grid uses identical hyperparameters; only architecture and scheme differ.
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

struct Preset {
  std::string name;
  std::string description;
  std::string config_path;
  std::vector<int64_t> heads;
  std::vector<ResidualScheme> schemes;
  int64_t seeds = 1;
  std::vector<std::string> overrides;  // key=value
  InferenceGrid inference;
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
};

// The base config with the preset's and the caller's overrides, reshaped to every head
// count, times schemes and seeds; shallow (most heads) first. Validates every run's config.
std::vector<GridRun> expand_grid(const Preset& preset, const std::vector<std::string>& extra_overrides);

// Indices into grid in the order compare trains them: every cell's first seed before any
// cell's second, so a study stopped part-way already compares every architecture and scheme.
std::vector<size_t> training_order(const std::vector<GridRun>& grid);

}  // namespace headcount
