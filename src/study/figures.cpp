#include "study/figures.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join lives here from fmt 11 (the one bundled in PyTorch wheels)

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "study/findings.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

const char* kTerminal =
    "set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'\nset termoption noenhanced\n"
    "set grid\nset key outside right top\n";

void run_gnuplot(const fs::path& figures, const std::string& script, std::vector<std::string>& notes) {
  const std::string command = fmt::format("cd '{}' && gnuplot '{}' > /dev/null 2>&1", figures.string(), script);
  if (std::system(command.c_str()) != 0) notes.push_back(fmt::format("gnuplot could not draw figures/{}", script));
}

std::string separator(const std::string& plots) { return plots.empty() ? "" : ", \\\n     "; }

// One run's dev curve as a data file: update, loss, metric (NaN where not measured), time.
void write_dev_curve(const RunRow& run, const std::string& metric, const fs::path& data) {
  std::ofstream dat(data / (run.name + ".dev.dat"));
  dat << "# update dev_loss dev_" << metric << " elapsed_s\n";
  for (const auto& p : run.dev_curve)
    dat << p.update << " " << nlohmann::json(p.loss).dump() << " " << (p.metric ? nlohmann::json(*p.metric).dump() : "NaN")
        << " " << nlohmann::json(p.elapsed_s).dump() << "\n";
}

// The dev curves of every run: loss against updates and the metric against minutes, with
// diverged runs marked where they diverged.
void dev_curve_figures(const StudyResults& results, const fs::path& figures, std::vector<std::string>& notes) {
  const fs::path data = figures / "data";
  const auto axes = grid_axes(results);
  const std::string& metric = results.metric.key;
  double highest_loss = 0;
  for (const auto& run : results.runs)
    for (const auto& p : run.dev_curve) highest_loss = std::max(highest_loss, p.loss);
  std::set<std::string> titled_cells;
  std::set<int64_t> seeds;
  for (const auto& run : results.runs) seeds.insert(run.seed);
  std::string loss_plots, metric_plots, diverged_points;
  for (const auto& run : results.runs) {
    write_dev_curve(run, metric, data);
    if (!run.dev_curve.empty()) {
      // Colour by scheme, dash and point by architecture, one key entry for all seeds of a
      // cell: a 27-run grid stays readable, and seeds of one cell show as a bundle.
      const int64_t scheme_index = std::find(axes.schemes.begin(), axes.schemes.end(), run.scheme) - axes.schemes.begin();
      const int64_t architecture_index = std::distance(axes.heads.begin(), axes.heads.find(run.heads));
      const std::string cell = fmt::format("{} {}", run.architecture, run.scheme);
      std::string title = "notitle";
      if (titled_cells.insert(cell).second)
        title = fmt::format("title '{}{}'", cell, seeds.size() > 1 ? fmt::format(" ({} seeds)", seeds.size()) : "");
      const std::string style = fmt::format("with linespoints lc {} dt {} pt {} {}", scheme_index + 1,
                                            architecture_index + 1, 2 * architecture_index + 5, title);
      loss_plots += fmt::format("{}'data/{}.dev.dat' using 1:2 {}", separator(loss_plots), run.name, style);
      metric_plots += fmt::format("{}'data/{}.dev.dat' using ($4/60):3 {}", separator(metric_plots), run.name, style);
    }
    if (run.status == RunStatus::Diverged && run.diverged_at_update)
      diverged_points += fmt::format("{} {} {}\n", *run.diverged_at_update, highest_loss > 0 ? highest_loss : 1.0, run.name);
  }
  std::ofstream(data / "diverged.dat") << "# update y run\n" << diverged_points;
  if (!diverged_points.empty())
    loss_plots += separator(loss_plots) +
                  "'data/diverged.dat' using 1:2:3 with labels point pt 2 ps 2 lc rgb 'red' offset 0,1 title 'diverged (at update)'";
  if (!loss_plots.empty()) {
    std::ofstream(figures / "dev_loss.gp") << kTerminal << "set output 'dev_loss.svg'\nset title 'Dev loss against updates'\n"
                                           << "set xlabel 'update'\nset ylabel 'dev loss (as the task trains it, nats per token)'\n"
                                           << "plot " << loss_plots << "\n";
    run_gnuplot(figures, "dev_loss.gp", notes);
  }
  if (!metric_plots.empty()) {
    std::ofstream(figures / "dev_metric_time.gp") << kTerminal << "set output 'dev_metric_time.svg'\n"
                                                  << fmt::format("set title 'Dev {} against wall time'\n", results.metric.name)
                                                  << "set xlabel 'minutes'\n"
                                                  << fmt::format("set ylabel 'dev {}'\n", results.metric.name)
                                                  << "plot " << metric_plots << "\n";
    run_gnuplot(figures, "dev_metric_time.gp", notes);
  }
}

void gain_figure(const StudyResults& results, const fs::path& figures, std::vector<std::string>& notes) {
  if (results.gains.empty()) return;
  const auto& m = results.metric;
  std::string plots;
  std::vector<int64_t> unrolled{1};
  for (const auto& g : results.gains) unrolled.push_back(g.unrolled);
  std::sort(unrolled.begin(), unrolled.end());
  unrolled.erase(std::unique(unrolled.begin(), unrolled.end()), unrolled.end());
  for (const auto& scheme : grid_axes(results).schemes) {
    std::ofstream dat(figures / "data" / ("gain_" + scheme + ".dat"));
    // The shallow model against itself (1x, gain 0) anchors each line.
    dat << "# heads_unrolled_into_depth gain_" << m.key << "_points sd_over_seeds seeds\n1 0 0 0\n";
    bool any = false;
    for (const auto& g : results.gains)
      if (g.scheme == scheme)
        dat << g.unrolled << " " << nlohmann::json(g.gain).dump() << " " << nlohmann::json(g.sd).dump() << " " << g.seeds
            << "\n",
            any = true;
    if (any)
      plots += fmt::format("{}'data/gain_{}.dat' using 1:2:3 with yerrorlines title '{}'", plots.empty() ? "" : ", ",
                           scheme, scheme);
  }
  std::ofstream(figures / "gain_vs_heads.gp")
      << kTerminal << "set output 'gain_vs_heads.svg'\n"
      << fmt::format("set title 'Gain of the deeper model over the shallow one (test {}, same scheme; mean ± sd over seeds)'\n", m.name)
      << "set xlabel 'heads unrolled into depth (shallow heads / heads per layer)'\n"
      << fmt::format("set ylabel '{} points ({})'\n", m.name, m.lower_is_better ? "shallow minus deep" : "deep minus shallow")
      << fmt::format("set xzeroaxis\nset logscale x 2\nset xrange [0.9:{}]\nset xtics ({})\n", 1.15 * unrolled.back(),
                     fmt::join(unrolled, ", "))
      << "plot " << plots << "\n";
  run_gnuplot(figures, "gain_vs_heads.gp", notes);
}

void inference_figure(const StudyResults& results, const fs::path& figures, std::vector<std::string>& notes) {
  if (results.inference.empty()) return;
  std::string plots;
  std::set<std::pair<int64_t, int64_t>> series;
  for (const auto& t : results.inference) series.insert({t.heads, t.length});
  for (const auto& [h, length] : series) {
    const std::string file = fmt::format("inference_{}H_len{}.dat", h, length);
    std::ofstream dat(figures / "data" / file);
    dat << "# batch tokens_per_s median_ms\n";
    for (const auto& t : results.inference)
      if (t.heads == h && t.length == length)
        dat << t.batch << " " << nlohmann::json(t.tokens_per_s).dump() << " " << nlohmann::json(t.median_ms).dump() << "\n";
    plots += fmt::format("{}'data/{}' using 1:2 with linespoints title '{} length {}'", plots.empty() ? "" : ", ", file,
                         architecture_of(results, h), length);
  }
  std::ofstream(figures / "inference_speed.gp") << kTerminal << "set output 'inference_speed.svg'\n"
                                                << (results.generates
                                                        ? "set title 'Decoding speed (greedy, as many output tokens as input)'\n"
                                                          "set xlabel 'batch size'\nset ylabel 'output tokens per second'\n"
                                                        : "set title 'Encoding speed'\n"
                                                          "set xlabel 'batch size'\nset ylabel 'input tokens per second'\n")
                                                << "set logscale xy\nplot " << plots << "\n";
  run_gnuplot(figures, "inference_speed.gp", notes);
}

// RQ1: effective positions per layer, and of the rollout through layers 1..l, against the
// relative depth l/L, one line per architecture (its main stack: the encoder if any).
void attention_figures(const StudyResults& results, const fs::path& figures, std::vector<std::string>& notes) {
  if (results.attention.empty()) return;
  std::string layer_plots, rollout_plots;
  int index = 0;
  for (const auto& a : results.attention) {
    ++index;
    std::string stack = "decoder";
    for (const auto& l : a.analysis.layers)
      if (l.stack == "encoder") stack = "encoder";
    const auto file = fmt::format("attention_{}.dat", a.architecture);
    std::ofstream dat(figures / "data" / file);
    dat << "# relative_depth layer effective_positions covered_positions rollout_effective rollout_positions_for_mass\n";
    for (const auto& l : a.analysis.layers) {
      if (l.stack != stack || l.kind != "self") continue;
      const RolloutStatistics* rolled = nullptr;
      for (const auto& r : a.analysis.rollout)
        if (r.stack == stack && r.layer == l.layer) rolled = &r;
      dat << nlohmann::json(static_cast<double>(l.layer + 1) / a.layers).dump() << " " << l.layer + 1 << " "
          << nlohmann::json(l.effective_positions).dump() << " " << nlohmann::json(l.covered_positions).dump() << " "
          << nlohmann::json(rolled ? rolled->effective_positions : 0.0).dump() << " "
          << nlohmann::json(rolled ? rolled->positions_for_mass : 0.0).dump() << "\n";
    }
    layer_plots += fmt::format("{}'data/{}' using 1:3 with linespoints lc {} title '{} per head', "
                               "'data/{}' using 1:4 with linespoints lc {} dt 2 title '{} union of heads'",
                               separator(layer_plots), file, index, a.architecture, file, index, a.architecture);
    rollout_plots += fmt::format("{}'data/{}' using 1:5 with linespoints lc {} title '{} effective', "
                                 "'data/{}' using 1:6 with linespoints lc {} dt 2 title '{} carrying {:.0f}%'",
                                 separator(rollout_plots), file, index, a.architecture, file, index, a.architecture,
                                 100 * a.analysis.options.mass);
  }
  std::ofstream(figures / "attention_layers.gp")
      << kTerminal << "set output 'attention_layers.svg'\n"
      << "set title 'Positions each layer attends (exp of the attention entropy; dashed: keys >= 0.1 of a head)'\n"
      << "set xlabel 'relative depth (layer / layers)'\nset ylabel 'positions'\nset xrange [0:1.05]\nplot " << layer_plots
      << "\n";
  run_gnuplot(figures, "attention_layers.gp", notes);
  std::ofstream(figures / "attention_rollout.gp")
      << kTerminal << "set output 'attention_rollout.svg'\n"
      << "set title 'Input positions reached through the stack (attention rollout through layers 1..l)'\n"
      << "set xlabel 'relative depth (layer / layers)'\nset ylabel 'input positions'\nset xrange [0:1.05]\nplot "
      << rollout_plots << "\n";
  run_gnuplot(figures, "attention_rollout.gp", notes);
}

}  // namespace

const std::vector<std::string>& figure_names() {
  static const std::vector<std::string> names{"dev_loss", "dev_metric_time", "gain_vs_heads", "inference_speed",
                                              "attention_layers", "attention_rollout"};
  return names;
}

std::vector<std::string> write_figures(const StudyResults& results, const std::string& figures_dir) {
  const fs::path figures(figures_dir);
  fs::create_directories(figures / "data");
  std::vector<std::string> notes;
  dev_curve_figures(results, figures, notes);
  gain_figure(results, figures, notes);
  inference_figure(results, figures, notes);
  attention_figures(results, figures, notes);
  return notes;
}

}  // namespace headcount
