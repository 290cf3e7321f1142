#include "run/run_folder.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "util/durable_file.h"
#include "util/enum_names.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace headcount {

namespace {

constexpr NamedValue<RunStatus> kRunStatuses[] = {
    {RunStatus::Running, "running"},         {RunStatus::Finished, "finished"},
    {RunStatus::Diverged, "diverged"},       {RunStatus::Interrupted, "interrupted"},
    {RunStatus::Failed, "failed"},           {RunStatus::Unfinished, "unfinished"},
    {RunStatus::NotStarted, "not started"}, {RunStatus::Skipped, "skipped"},
};

constexpr NamedValue<CheckpointChoice> kCheckpointChoices[] = {
    {CheckpointChoice::Best, "best"}, {CheckpointChoice::Last, "last"}, {CheckpointChoice::Average, "average"}};

template <typename T>
std::optional<T> optional_field(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

json optional_json(const std::optional<int64_t>& v) { return v ? json(*v) : json(); }
json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(); }

}  // namespace

std::string to_string(RunStatus status) { return name_of(kRunStatuses, status); }
RunStatus parse_run_status(const std::string& name) { return parse_named(kRunStatuses, name, "run status"); }
bool trained_to_end(RunStatus status) { return status == RunStatus::Finished || status == RunStatus::Diverged; }

std::string to_string(CheckpointChoice choice) { return name_of(kCheckpointChoices, choice); }
CheckpointChoice parse_checkpoint_choice(const std::string& name) {
  return parse_named(kCheckpointChoices, name, "checkpoint");
}

std::string RunFolder::checkpoint(CheckpointChoice choice) const {
  return (dir_ / ("checkpoint_" + to_string(choice) + ".pt")).string();
}

std::string RunFolder::checkpoint_at_update(int64_t update) const {
  return (dir_ / fmt::format("checkpoint_update{}.pt", update)).string();
}

std::string RunFolder::best_or_last_checkpoint() const {
  for (const auto choice : {CheckpointChoice::Best, CheckpointChoice::Last})
    if (const auto path = checkpoint(choice); fs::exists(path)) return path;
  return "";
}

std::string RunFolder::sentencepiece_prefix(PieceModel which) const {
  switch (which) {
    case PieceModel::Source: return file("sentencepiece.source");
    case PieceModel::Target: return file("sentencepiece.target");
    case PieceModel::Joint: break;
  }
  return file("sentencepiece");
}

std::string RunFolder::rank_log(int rank) const { return (dir_ / fmt::format("rank{}.log", rank)).string(); }

json RunSummary::to_json() const {
  json j = {{"status", headcount::to_string(status)},
            {"diverged_at_update", optional_json(diverged_at_update)},
            {"updates", updates},
            {"epochs", epochs},
            {"parameters", parameters},
            {"architecture", architecture},
            {"residual", residual},
            {"encoder_layers", encoder_layers},
            {"decoder_layers", decoder_layers},
            {"threads", threads},
            {"processes", processes},
            {"device", device},
            {"precision", precision},
            {"best_dev", {{"metric", best_dev.metric}, {"value", optional_json(best_dev.value)}, {"update", best_dev.update}}},
            {"last_dev", last_dev},
            {"wall_time_s", wall_time_s},
            {"train_time_s", train_time_s},
            {"tokens_per_s", tokens_per_s},
            {"peak_rss_mib", peak_rss_mib},
            {"peak_device_memory_mib", peak_device_memory_mib},
            {"skipped_updates", skipped_updates},
            {"admin_profile", admin_profile}};
  if (!average_dev.is_null()) j["average_dev"] = average_dev;
  if (!test.is_null()) j["test"] = test;
  return j;
}

RunSummary RunSummary::from_json(const json& j) {
  RunSummary s;
  try {
    s.status = parse_run_status(j.value("status", "running"));
    s.diverged_at_update = optional_field<int64_t>(j, "diverged_at_update");
    s.updates = j.value("updates", int64_t{0});
    s.epochs = j.value("epochs", int64_t{0});
    s.parameters = j.value("parameters", int64_t{0});
    s.architecture = j.value("architecture", "");
    s.residual = j.value("residual", "");
    s.encoder_layers = j.value("encoder_layers", int64_t{0});
    s.decoder_layers = j.value("decoder_layers", int64_t{0});
    s.threads = j.value("threads", int64_t{1});
    s.processes = j.value("processes", int64_t{1});
    s.device = j.value("device", "");
    s.precision = j.value("precision", "");
    if (const auto best = j.value("best_dev", json()); best.is_object())
      s.best_dev = {best.value("metric", ""), optional_field<double>(best, "value"), best.value("update", int64_t{0})};
    s.last_dev = j.value("last_dev", json());
    s.wall_time_s = j.value("wall_time_s", 0.0);
    s.train_time_s = j.value("train_time_s", 0.0);
    s.tokens_per_s = j.value("tokens_per_s", 0.0);
    s.peak_rss_mib = j.value("peak_rss_mib", 0.0);
    s.peak_device_memory_mib = j.value("peak_device_memory_mib", 0.0);
    s.skipped_updates = j.value("skipped_updates", int64_t{0});
    s.admin_profile = j.value("admin_profile", json());
    s.average_dev = j.value("average_dev", json());
    s.test = j.value("test", json());
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("not a run summary: {}", e.what()));
  }
  return s;
}

RunSummary read_run_summary(const RunFolder& folder) {
  const auto path = folder.summary();
  const json j = read_json_file(path);
  try {
    return RunSummary::from_json(j);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

void write_run_summary(const RunFolder& folder, const RunSummary& summary) {
  write_file_atomically(folder.summary(), summary.to_json().dump(2) + "\n");
}

std::optional<RunStatus> recorded_status(const RunFolder& folder) {
  if (!fs::exists(folder.summary())) return std::nullopt;
  try {
    return read_run_summary(folder).status;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void write_file_atomically(const std::string& path, const std::string& text) { write_file_durably(path, text); }

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path));
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void append_metrics(const std::string& path, const json& line) {
  std::ofstream out(path, std::ios::app);
  out << line.dump() << "\n";
  out.close();
  if (!out) {
    const auto full = disk_full_note(fs::path(path).parent_path().string());
    throw std::runtime_error(fmt::format("{}: cannot append to it{}", path, full.empty() ? "" : " (" + full + ")"));
  }
}

std::vector<json> read_metrics(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    try {
      lines.push_back(json::parse(line));
    } catch (const json::parse_error&) {
      // A line cut short by a crash: everything before it is still good.
      break;
    }
  }
  return lines;
}

void truncate_metrics_after(const std::string& path, int64_t update) {
  if (!fs::exists(path)) return;
  std::string kept;
  for (const auto& line : read_metrics(path))
    if (line.value("update", int64_t{0}) <= update) kept += line.dump() + "\n";
  write_file_atomically(path, kept);
}

}  // namespace headcount
