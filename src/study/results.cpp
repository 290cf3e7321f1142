#include "study/results.h"

#include <fmt/format.h>

#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>

#include "study/preset.h"
#include "run/run_folder.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace headcount {

namespace {

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json();
}

template <typename T>
std::optional<T> optional_from(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

json run_to_json(const RunRow& r) {
  json curve = json::array();
  for (const auto& p : r.dev_curve)
    curve.push_back({{"update", p.update}, {"elapsed_s", p.elapsed_s}, {"loss", p.loss}, {"metric", optional_json(p.metric)}});
  json row = {{"name", r.name},     {"heads", r.heads}, {"layers", r.layers},     {"architecture", r.architecture},
              {"scheme", r.scheme}, {"seed", r.seed},   {"run_dir", r.run_dir}, {"status", to_string(r.status)},
              {"dev_curve", curve}};
  if (!r.error.empty()) row["error"] = r.error;
  if (r.finetune_seed) row["pretrained"] = r.pretrained, row["finetune_seed"] = r.finetune_seed;
  if (r.has_summary) {
    row["diverged_at_update"] = optional_json(r.diverged_at_update);
    row["updates"] = optional_json(r.updates);
    row["parameters"] = optional_json(r.parameters);
    row["best_dev"] = r.best_dev_summary;
    row["wall_time_s"] = optional_json(r.wall_time_s);
    row["train_time_s"] = optional_json(r.train_time_s);
    row["tokens_per_s"] = optional_json(r.tokens_per_s);
    row["peak_rss_mib"] = optional_json(r.peak_rss_mib);
    row["test"] = r.test;
  }
  if (r.test_metric) row["test_metric"] = *r.test_metric;
  return row;
}

// The fields a results.json row keeps of its run's summary.
void read_summary_fields(const json& j, RunRow& r) {
  r.status = parse_run_status(j.value("status", ""));
  r.diverged_at_update = optional_from<int64_t>(j, "diverged_at_update");
  r.updates = optional_from<int64_t>(j, "updates");
  r.parameters = optional_from<int64_t>(j, "parameters");
  r.best_dev_summary = j.value("best_dev", json());
  if (r.best_dev_summary.is_object()) r.best_dev = optional_from<double>(r.best_dev_summary, "value");
  r.wall_time_s = optional_from<double>(j, "wall_time_s");
  r.train_time_s = optional_from<double>(j, "train_time_s");
  r.tokens_per_s = optional_from<double>(j, "tokens_per_s");
  r.peak_rss_mib = optional_from<double>(j, "peak_rss_mib");
  r.test = j.value("test", json());
}

// The fields a run's summary.json gives its row.
void take_summary(const RunSummary& s, RunRow& r) {
  r.status = s.status;
  r.diverged_at_update = s.diverged_at_update;
  r.updates = s.updates;
  r.parameters = s.parameters;
  r.best_dev_summary = s.to_json().at("best_dev");
  r.best_dev = s.best_dev.value;
  r.wall_time_s = s.wall_time_s;
  r.train_time_s = s.train_time_s;
  r.tokens_per_s = s.tokens_per_s;
  r.peak_rss_mib = s.peak_rss_mib;
  r.test = s.test;
  r.has_summary = true;
}

RunRow run_from_json(const json& j) {
  RunRow r;
  r.name = j.value("name", "");
  r.heads = j.at("heads");
  r.layers = j.value("layers", int64_t{0});
  r.architecture = j.at("architecture");
  r.scheme = j.at("scheme");
  r.seed = j.at("seed");
  r.run_dir = j.value("run_dir", "");
  read_summary_fields(j, r);
  r.has_summary = j.contains("updates");
  r.error = j.value("error", "");
  r.pretrained = j.value("pretrained", "");
  r.finetune_seed = j.value("finetune_seed", int64_t{0});
  r.test_metric = optional_from<double>(j, "test_metric");
  for (const auto& p : j.value("dev_curve", json::array()))
    r.dev_curve.push_back({p.at("update"), p.at("elapsed_s"), p.at("loss"), optional_from<double>(p, "metric")});
  return r;
}

}  // namespace

json StudyResults::to_json() const {
  json out = {{"preset", preset},
              {"description", description},
              {"command", command},
              {"threads", threads},
              {"jobs", jobs},
              {"threads_per_run", threads_per_run},
              {"metric", metric.key},
              {"metric_name", metric.name},
              {"lower_is_better", metric.lower_is_better},
              {"not_learned_at", std::isnan(metric.not_learned_at) ? json() : json(metric.not_learned_at)},
              {"metric_unit", metric.unit},
              {"shallow_heads", shallow_heads},
              {"generates", generates},
              {"complete", complete},
              {"runs", json::array()},
              {"inference", json::array()},
              {"findings", findings},
              {"gain_vs_heads", json::array()},
              {"figure_notes", figure_notes}};
  for (const auto& r : runs) out["runs"].push_back(run_to_json(r));
  for (const auto& t : inference)
    out["inference"].push_back({{"architecture", t.architecture},
                                {"heads", t.heads},
                                {"batch", t.batch},
                                {"length", t.length},
                                {"median_ms", t.median_ms},
                                {"sentences_per_s", t.sentences_per_s},
                                {"tokens_per_s", t.tokens_per_s}});
  out["downstream"] = json::array();
  for (const auto& d : downstream) {
    json rows = json::array();
    for (const auto& r : d.runs) rows.push_back(run_to_json(r));
    out["downstream"].push_back({{"name", d.name}, {"metric", d.metric.key}, {"metric_name", d.metric.name},
                                 {"runs", rows}, {"findings", d.findings}});
  }
  out["attention"] = json::array();
  for (const auto& a : attention)
    out["attention"].push_back({{"architecture", a.architecture}, {"heads", a.heads}, {"layers", a.layers}, {"run", a.run},
                                {"analysis", a.analysis.to_json()}});
  for (const auto& g : gains)
    out["gain_vs_heads"].push_back({{"scheme", g.scheme}, {"heads", g.heads}, {"unrolled", g.unrolled},
                                    {"gain", g.gain}, {"sd", g.sd}, {"seeds", g.seeds}});
  return out;
}

StudyResults StudyResults::from_json(const json& j) {
  StudyResults s;
  s.preset = j.value("preset", "");
  s.description = j.value("description", "");
  s.command = j.value("command", "");
  s.threads = j.value("threads", 1);
  s.jobs = j.value("jobs", 1);
  s.threads_per_run = j.value("threads_per_run", std::max(1, s.threads / s.jobs));
  s.metric.key = j.at("metric");
  s.metric.name = j.value("metric_name", s.metric.key);
  s.metric.lower_is_better = j.at("lower_is_better");
  s.metric.not_learned_at = j.contains("not_learned_at") && j.at("not_learned_at").is_number()
                                ? j.at("not_learned_at").get<double>()
                                : std::numeric_limits<double>::quiet_NaN();
  s.metric.unit = j.value("metric_unit", "");
  s.shallow_heads = j.at("shallow_heads");
  s.generates = j.value("generates", true);
  s.complete = j.at("complete");
  for (const auto& r : j.at("runs")) s.runs.push_back(run_from_json(r));
  for (const auto& t : j.value("inference", json::array()))
    s.inference.push_back({t.value("architecture", ""), t.at("heads"), t.at("batch"), t.at("length"),
                           t.value("median_ms", 0.0), t.value("sentences_per_s", 0.0), t.at("tokens_per_s")});
  for (const auto& d : j.value("downstream", json::array())) {
    DownstreamResults downstream{d.at("name"), {d.at("metric"), d.value("metric_name", ""), false, kNoLearningBound, ""}, {}, {}};
    for (const auto& r : d.at("runs")) downstream.runs.push_back(run_from_json(r));
    downstream.findings = d.value("findings", std::vector<std::string>{});
    s.downstream.push_back(std::move(downstream));
  }
  for (const auto& a : j.value("attention", json::array()))
    s.attention.push_back({a.at("architecture"), a.at("heads"), a.at("layers"), a.at("run"),
                           AttentionAnalysis::from_json(a.at("analysis"))});
  s.findings = j.value("findings", std::vector<std::string>{});
  s.figure_notes = j.value("figure_notes", std::vector<std::string>{});
  for (const auto& g : j.value("gain_vs_heads", json::array()))
    s.gains.push_back({g.at("scheme"), g.at("heads"), g.at("unrolled"), g.at("gain"), g.at("sd"), g.at("seeds")});
  return s;
}

RunRow read_run_row(const GridRun& run, const std::string& run_dir_text, const MetricInfo& metric) {
  const fs::path run_dir(run_dir_text);
  const auto& model = run.config.model;
  RunRow row;
  row.name = run.name;
  row.heads = run.heads;
  row.layers = model.has_encoder() ? model.encoder.layers : model.decoder.layers;
  row.architecture = fmt::format("{}L-{}H", row.layers, run.heads);
  row.scheme = to_string(run.scheme);
  row.seed = run.seed;
  row.pretrained = run.pretrained;
  row.finetune_seed = run.finetune_seed;
  row.run_dir = run_dir.string();
  const RunFolder folder(run_dir);
  if (fs::exists(folder.summary())) {
    take_summary(read_run_summary(folder), row);
    if (row.test.is_object() && row.test.contains(metric.key)) row.test_metric = row.test[metric.key].get<double>();
  } else if (fs::exists(folder.failed_note())) {
    row.status = RunStatus::Failed;
    row.error = read_text_file(folder.failed_note());
  } else {
    // Started (it has logged or saved a checkpoint) but not ended: running now, stopped, or
    // stopped with its machine.
    const bool started = fs::exists(folder.metrics()) || fs::exists(folder.checkpoint(CheckpointChoice::Last));
    row.status = started ? RunStatus::Unfinished : RunStatus::NotStarted;
    if (fs::exists(folder.killed_note()))
      row.status = RunStatus::Unfinished, row.error = read_text_file(folder.killed_note());
  }
  for (const auto& line : read_metrics(folder.metrics()))
    if (line.value("kind", "") == "dev")
      row.dev_curve.push_back({line["update"], line["elapsed_s"], line.value("dev_loss", 0.0),
                               line.contains("dev_" + metric.key)
                                   ? std::optional<double>(line["dev_" + metric.key].get<double>())
                                   : std::nullopt});
  return row;
}

}  // namespace headcount
