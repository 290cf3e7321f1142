#include "study/report.h"

#include <fmt/format.h>

#include <filesystem>

#include "study/figures.h"
#include "study/findings.h"
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

std::string number(const std::optional<double>& value, int decimals = 2) {
  if (!value) return "–";
  return fmt::format("{:.{}f}", *value, decimals);
}

template <typename T>
std::string integer(const std::optional<T>& value) {
  return value ? std::to_string(*value) : "–";
}

std::string status_text(const RunRow& run) {
  if (run.status == RunStatus::Diverged && run.diverged_at_update) return fmt::format("diverged at {}", *run.diverged_at_update);
  return to_string(run.status);
}

std::string header(const StudyResults& r) {
  const std::string threads_line =
      r.jobs > 1 ? fmt::format("{} ({} runs trained at a time, {} thread{} each; inference measured alone on all {})",
                               r.threads, r.jobs, r.threads_per_run, r.threads_per_run > 1 ? "s" : "", r.threads)
                 : std::to_string(r.threads);
  return fmt::format("# Comparison: preset `{}`\n\n{}\n\nCommand: `{}`  \nThreads: {}{}\n\n", r.preset, r.description,
                     r.command, threads_line,
                     r.complete ? "" : "  \n**Incomplete: part of the grid is not trained yet; re-run the same command to finish it.**");
}

// One row per run; the metric's name in the header.
std::string run_rows(const std::vector<RunRow>& runs, const std::string& name) {
  std::string md = fmt::format(
      "| run | architecture | params | scheme | seed | status | best dev {} | test {} | updates | train time (s) | tokens/s | peak MiB |\n",
      name, name);
  md += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& run : runs)
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", run.name, run.architecture,
                      integer(run.parameters), run.scheme, run.seed, status_text(run), number(run.best_dev),
                      number(run.test_metric), integer(run.updates), number(run.train_time_s, 0),
                      number(run.tokens_per_s, 0), number(run.peak_rss_mib, 0));
  return md;
}

std::string runs_table(const StudyResults& r) {
  return fmt::format("\n## Runs\n\nTest {} uses the run's best dev checkpoint{}.\n\n", r.metric.name,
                     r.generates ? " and its eval.beam; dev decodes greedily" : "") +
         run_rows(r.runs, r.metric.name);
}

// A downstream task: its findings, the means by architecture, scheme and start, its runs.
std::string downstream_section(const StudyResults& r, const DownstreamResults& d) {
  std::string md = fmt::format(
      "\n## Downstream: {} (test {})\n\nEvery pretrained run of the grid fine-tuned on it with one recipe, and "
      "each architecture and scheme trained on it from scratch with the same recipe (every run's resolved config "
      "is in `configs/` here).\n\n",
      d.name, d.metric.name);
  for (const auto& f : d.findings) md += "- " + f + "\n";
  md += fmt::format("\n| architecture | scheme | start | finished | test {} mean | sd | runs |\n|---|---|---|---|---|---|---|\n",
                    d.metric.name);
  const auto axes = grid_axes(r);
  for (int64_t h : axes.heads)
    for (const auto& scheme : axes.schemes)
      for (bool pretrained : {true, false}) {
        int64_t finished = 0, total = 0;
        std::vector<double> values;
        for (const auto& run : d.runs) {
          if (run.heads != h || run.scheme != scheme || run.pretrained.empty() == pretrained) continue;
          ++total, finished += run.status == RunStatus::Finished;
          if (run.test_metric) values.push_back(*run.test_metric);
        }
        if (!total) continue;
        const auto s = spread_of(values);
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", architecture_of(r, h), scheme,
                          pretrained ? "pretrained" : "scratch", finished, s.n ? fmt::format("{:.2f}", s.mean) : "–",
                          s.n > 1 ? fmt::format("{:.2f}", s.sd) : "–", total);
      }
  return md + "\n" + run_rows(d.runs, d.metric.name);
}

std::string means_table(const StudyResults& r) {
  std::string md = fmt::format(
      "\n## Means over seeds\n\n| architecture | scheme | finished | diverged | test {} mean | sd |\n|---|---|---|---|---|---|\n",
      r.metric.name);
  const auto axes = grid_axes(r);
  for (int64_t h : axes.heads)
    for (const auto& scheme : axes.schemes) {
      int64_t finished = 0, diverged = 0;
      std::vector<double> values;
      for (const auto& run : r.runs) {
        if (run.heads != h || run.scheme != scheme) continue;
        finished += run.status == RunStatus::Finished;
        diverged += run.status == RunStatus::Diverged;
        if (run.test_metric) values.push_back(*run.test_metric);
      }
      const auto s = spread_of(values);
      md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", architecture_of(r, h), scheme, finished, diverged,
                        s.n ? fmt::format("{:.2f}", s.mean) : "–", s.n > 1 ? fmt::format("{:.2f}", s.sd) : "–");
    }
  return md;
}

std::string inference_table(const StudyResults& r) {
  if (r.inference.empty()) return "";
  std::string md =
      std::string("\n## Inference speed\n\nMeasured in one process, one trained model per architecture: encode a batch of "
                  "random ") +
      (r.generates ? "sources, then decode as many tokens as the source has." : "sequences of the given length.") +
      " The architectures are timed in interleaved rounds "
      "(each once a round), so a slow spell of the machine hits all of them alike; median over the rounds.\n\n"
      "| architecture | batch | length | median ms | sentences/s | tokens/s |\n|---|---|---|---|---|---|\n";
  for (const auto& t : r.inference)
    md += fmt::format("| {} | {} | {} | {:.1f} | {:.1f} | {:.0f} |\n", t.architecture, t.batch, t.length, t.median_ms,
                      t.sentences_per_s, t.tokens_per_s);
  return md;
}

// RQ1: the numbers behind the attention figures, one row per analysed architecture.
std::string attention_table(const StudyResults& r) {
  if (r.attention.empty()) return "";
  std::string md =
      "\n## Positions attended (RQ1)\n\nEach architecture's best run (by the test metric), on 200 dev examples, padding "
      "excluded (definitions: docs/analysis.md). Per layer: exp of the attention entropy of a query, averaged over "
      "queries and heads, and the keys holding at least 0.1 of some head's attention; through the stack: the attention "
      "rollout at the top layer; gradient: the input embeddings the encoder's outputs depend on.\n\n"
      "| architecture | run | stack | per layer, each head | per layer, union of heads | rollout at the top | rollout "
      "carrying 90% | gradient effective | gradient carrying 90% |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& a : r.attention) {
    std::string stack = "decoder";
    for (const auto& l : a.analysis.layers)
      if (l.stack == "encoder") stack = "encoder";
    double effective = 0, covered = 0, n = 0;
    for (const auto& l : a.analysis.layers)
      if (l.stack == stack && l.kind == "self") effective += l.effective_positions, covered += l.covered_positions, ++n;
    const auto* top = a.analysis.top_rollout(stack);
    const auto& g = a.analysis.gradient;
    md += fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {} | {} | {} | {} |\n", a.architecture, a.run, stack,
                      n ? effective / n : 0.0, n ? covered / n : 0.0,
                      top ? fmt::format("{:.2f}", top->effective_positions) : "–",
                      top ? fmt::format("{:.2f}", top->positions_for_mass) : "–",
                      g.sentences ? fmt::format("{:.2f}", g.effective_positions) : "–",
                      g.sentences ? fmt::format("{:.2f}", g.positions_for_mass) : "–");
  }
  return md;
}

std::string figures_section(const StudyResults& r, const fs::path& figures) {
  std::string md =
      "\n## Figures\n\nData files and gnuplot scripts are in `figures/` and `figures/data/`; "
      "run `gnuplot NAME.gp` there to redraw.\n\n";
  for (const auto& figure : figure_names())
    if (fs::exists(figures / (figure + ".svg"))) md += fmt::format("![{}](figures/{}.svg)\n\n", figure, figure);
  for (const auto& n : r.figure_notes) md += "- " + n + "\n";
  return md;
}

}  // namespace

void write_report(StudyResults& results, const std::string& out_dir) {
  const fs::path out(out_dir), figures = out / "figures";
  auto findings = study_findings(results);
  results.findings = std::move(findings.sentences);
  results.gains = std::move(findings.gains);
  results.figure_notes = write_figures(results, figures.string());
  for (auto& d : results.downstream) d.findings = downstream_findings(results, d);

  std::string md = header(results);
  md += "## Findings\n\nComputed from the tables below by `src/study/findings.cpp`.\n\n";
  for (const auto& f : results.findings) md += "- " + f + "\n";
  md += runs_table(results) + means_table(results);
  for (const auto& d : results.downstream) md += downstream_section(results, d);
  md += attention_table(results) + inference_table(results) + figures_section(results, figures);
  write_file_atomically((out / "report.md").string(), md);
}

}  // namespace headcount
