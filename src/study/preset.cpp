#include "study/preset.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <set>

#include "config/repeated_keys.h"
#include "data/parallel_text.h"  // read_lines
#include "model/reshape.h"
#include "task/task_factory.h"

namespace headcount {

namespace {

template <typename T>
std::vector<T> read_list(const YAML::Node& node, const std::string& path, const std::string& key) {
  if (!node.IsSequence())
    throw ConfigError(fmt::format("{}:{}: '{}' expects a list, like [1, 8, 64]", path, node.Mark().line + 1, key));
  std::vector<T> out;
  for (const auto& item : node) {
    try {
      out.push_back(item.as<T>());
    } catch (const YAML::Exception&) {
      throw ConfigError(fmt::format("{}:{}: '{}' has a bad entry '{}'", path, item.Mark().line + 1, key, item.Scalar()));
    }
  }
  return out;
}

int64_t read_integer(const YAML::Node& node, const std::string& path, const std::string& key) {
  try {
    return node.as<int64_t>();
  } catch (const YAML::Exception&) {
    throw ConfigError(fmt::format("{}:{}: '{}' expects an integer, got '{}'", path, node.Mark().line + 1, key, node.Scalar()));
  }
}

std::vector<DownstreamTask> read_downstream(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence())
    throw ConfigError(fmt::format("{}:{}: 'downstream' expects a list of {{name, config, seeds, scratch}}", path,
                                  node.Mark().line + 1));
  std::vector<DownstreamTask> tasks;
  for (const auto& item : node) {
    const int line = item.Mark().line + 1;
    if (!item.IsMap()) throw ConfigError(fmt::format("{}:{}: a downstream task is a mapping {{name, config, seeds, scratch}}", path, line));
    DownstreamTask task;
    for (const auto& field : item) {
      const auto key = field.first.as<std::string>();
      if (key == "name") task.name = field.second.as<std::string>();
      else if (key == "config") task.config_path = field.second.as<std::string>();
      else if (key == "seeds") task.seeds = read_integer(field.second, path, "downstream.seeds");
      else if (key == "scratch") task.scratch = field.second.as<bool>();
      else if (key == "set" && field.second.IsMap())
        for (const auto& o : field.second) task.overrides.push_back(o.first.as<std::string>() + "=" + o.second.Scalar());
      else throw ConfigError(fmt::format("{}:{}: unknown key 'downstream.{}' (expected name, config, seeds, scratch, set)",
                                         path, field.first.Mark().line + 1, key));
    }
    if (task.name.empty() || task.config_path.empty())
      throw ConfigError(fmt::format("{}:{}: a downstream task needs a name and a config", path, line));
    if (task.seeds < 1) throw ConfigError(fmt::format("{}:{}: downstream.seeds must be at least 1", path, line));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

// One top-level key of a preset file into preset; throws ConfigError naming the line.
void read_entry(const std::string& key, const YAML::Node& value, const std::string& path, int line, Preset& preset) {
  if (key == "description") preset.description = value.as<std::string>();
  else if (key == "config") preset.config_path = value.as<std::string>();
  else if (key == "heads") preset.heads = read_list<int64_t>(value, path, key);
  else if (key == "seeds") preset.seeds = read_integer(value, path, key);
  else if (key == "schemes") {
    for (const auto& scheme : read_list<std::string>(value, path, key)) {
      try {
        preset.schemes.push_back(parse_residual_scheme(scheme));
      } catch (const std::invalid_argument& e) {
        throw ConfigError(fmt::format("{}:{}: schemes: {}", path, line, e.what()));
      }
    }
  } else if (key == "set") {
    if (!value.IsMap()) throw ConfigError(fmt::format("{}:{}: 'set' expects a mapping of config keys", path, line));
    for (const auto& o : value) preset.overrides.push_back(o.first.as<std::string>() + "=" + o.second.Scalar());
  } else if (key == "inference") {
    for (const auto& o : value) {
      const auto sub = o.first.as<std::string>();
      if (sub == "batch_sizes") preset.inference.batch_sizes = read_list<int64_t>(o.second, path, "inference.batch_sizes");
      else if (sub == "lengths") preset.inference.lengths = read_list<int64_t>(o.second, path, "inference.lengths");
      else if (sub == "repeats") preset.inference.repeats = read_integer(o.second, path, "inference.repeats");
      else throw ConfigError(fmt::format("{}:{}: unknown key 'inference.{}' (expected batch_sizes, lengths, repeats)",
                                         path, o.first.Mark().line + 1, sub));
    }
  } else if (key == "downstream") {
    preset.downstream = read_downstream(value, path);
  } else {
    throw ConfigError(fmt::format(
        "{}:{}: unknown key '{}' (expected description, config, heads, schemes, seeds, set, inference, downstream)", path,
        line, key));
  }
}

}  // namespace

Preset load_preset(const std::string& name) {
  std::string path = name;
  if (!std::filesystem::exists(path)) path = "configs/presets/" + name + ".yaml";
  if (!std::filesystem::exists(path)) {
    std::string known;
    if (std::filesystem::is_directory("configs/presets"))
      for (const auto& entry : std::filesystem::directory_iterator("configs/presets"))
        known += (known.empty() ? "" : ", ") + entry.path().stem().string();
    throw ConfigError(fmt::format("unknown preset '{}': no file {} (presets here: {})", name, path,
                                  known.empty() ? "none" : known));
  }
  Preset preset;
  preset.name = std::filesystem::path(path).stem().string();
  try {
    const auto lines = read_lines(path);  // UTF-8 checked line by line
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) throw ConfigError(fmt::format("{}: expected a mapping of keys", path));
    refuse_repeated_keys(root, path);
    for (const auto& item : root) read_entry(item.first.as<std::string>(), item.second, path, item.first.Mark().line + 1, preset);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: not valid YAML here: {}", path, e.mark.line + 1, e.msg));
  } catch (const ConfigError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw ConfigError(e.what());
  }
  if (preset.config_path.empty()) throw ConfigError(fmt::format("{}: 'config' (the task's train config) is required", path));
  if (preset.schemes.empty()) throw ConfigError(fmt::format("{}: 'schemes' must name at least one residual scheme", path));
  if (preset.seeds < 1) throw ConfigError(fmt::format("{}: 'seeds' must be at least 1", path));
  if (preset.inference.repeats < 1) throw ConfigError(fmt::format("{}: 'inference.repeats' must be at least 1", path));
  return preset;
}

std::vector<GridRun> expand_grid(const Preset& preset, const std::vector<std::string>& extra_overrides) {
  auto overrides = preset.overrides;
  overrides.insert(overrides.end(), extra_overrides.begin(), extra_overrides.end());
  const RunConfig base = load_config(preset.config_path, overrides);
  const int64_t shallow_heads = base.model.has_encoder() ? base.model.encoder.heads : base.model.decoder.heads;
  std::set<int64_t, std::greater<>> heads(preset.heads.begin(), preset.heads.end());
  heads.insert(shallow_heads);
  std::vector<GridRun> runs;
  for (int64_t k : heads) {
    ModelConfig model;
    try {
      model = reshape_model(base.model, k);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(fmt::format("preset {}: heads {}: {}", preset.name, k, e.what()));
    }
    if (k == shallow_heads) model = base.model;  // the shallow model exactly as configured
    for (auto scheme : preset.schemes) {
      for (int64_t s = 0; s < preset.seeds; ++s) {
        GridRun run;
        run.heads = k;
        run.scheme = scheme;
        run.seed = base.train.seed + s;
        run.config = base;
        run.config.model = model;
        run.config.model.residual = scheme;
        run.config.train.seed = run.seed;
        const int64_t layers = model.has_encoder() ? model.encoder.layers : model.decoder.layers;
        run.name = fmt::format("{}L-{}H-{}-s{}", layers, k, to_string(scheme), run.seed);
        auto problems = validate(run.config);
        for (auto& p : task_problems(run.config)) problems.push_back(std::move(p));
        if (!problems.empty()) throw ConfigError(fmt::format("run {}: {}", run.name, problems.front()));
        runs.push_back(std::move(run));
      }
    }
  }
  return runs;
}

std::vector<GridRun> expand_downstream(const Preset& preset, const std::vector<GridRun>& grid) {
  std::vector<GridRun> runs;
  for (const auto& task : preset.downstream) {
    const RunConfig base = load_config(task.config_path, task.overrides);
    auto add = [&](const GridRun& from, int64_t s, bool scratch) {
      GridRun run = from;
      run.downstream = task.name;
      run.pretrained = scratch ? "" : from.name;
      run.finetune_seed = base.train.seed + s;
      run.config = base;
      run.config.model = from.config.model;  // the pretraining run's model, its head set by the task
      run.config.train.seed = run.finetune_seed;
      const std::string cell = from.name.substr(0, from.name.rfind("-s"));  // "4L-4H-admin"
      run.name = scratch ? fmt::format("{}.{}-scratch-s{}", cell, task.name, run.finetune_seed)
                         : fmt::format("{}.{}-s{}", from.name, task.name, run.finetune_seed);
      auto problems = validate(run.config);
      for (auto& p : task_problems(run.config)) problems.push_back(std::move(p));
      if (!problems.empty()) throw ConfigError(fmt::format("run {}: {}", run.name, problems.front()));
      runs.push_back(std::move(run));
    };
    for (const auto& from : grid)
      for (int64_t s = 0; s < task.seeds; ++s) add(from, s, false);
    if (!task.scratch) continue;
    std::set<std::string> cells;  // one set of scratch runs per architecture and scheme
    for (const auto& from : grid)
      if (cells.insert(from.name.substr(0, from.name.rfind("-s"))).second)
        for (int64_t s = 0; s < task.seeds; ++s) add(from, s, true);
  }
  return runs;
}

std::vector<size_t> training_order(const std::vector<GridRun>& grid) {
  std::vector<size_t> order(grid.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return grid[a].seed < grid[b].seed; });
  return order;
}

}  // namespace headcount
