#include "study/report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join lives here from fmt 11 (the one bundled in PyTorch wheels)

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "train/run_folder.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace headcount {

namespace {

struct Spread {
  int64_t n = 0;
  double mean = 0, sd = 0;
};

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  for (double v : values) s.mean += v;
  s.mean /= s.n;
  for (double v : values) s.sd += (v - s.mean) * (v - s.mean);
  s.sd = s.n > 1 ? std::sqrt(s.sd / (s.n - 1)) : 0.0;
  return s;
}

std::string number(const json& value, int decimals = 2) {
  if (!value.is_number()) return "–";
  return fmt::format("{:.{}f}", value.get<double>(), decimals);
}

// Runs that have not ended yet are neither results nor failures.
bool ended(const json& run) {
  const std::string status = run.value("status", "");
  return status != "unfinished" && status != "not started";
}

std::string status_text(const json& run) {
  const std::string status = run.value("status", "?");
  if (status == "diverged" && run.contains("diverged_at_update") && run["diverged_at_update"].is_number())
    return fmt::format("diverged at {}", run["diverged_at_update"].get<int64_t>());
  return status;
}

bool better(double a, double b, bool lower) { return lower ? a < b : a > b; }

// The test metric of each seed of one (architecture, scheme), by seed.
std::map<int64_t, double> metric_by_seed(const json& results, int64_t heads, const std::string& scheme) {
  std::map<int64_t, double> out;
  for (const auto& run : results["runs"])
    if (run["heads"] == heads && run["scheme"] == scheme && run.contains("test_metric"))
      out[run["seed"].get<int64_t>()] = run["test_metric"].get<double>();
  return out;
}

std::string architecture_of(const json& results, int64_t heads) {
  for (const auto& run : results["runs"])
    if (run["heads"] == heads) return run["architecture"];
  return "?";
}

void run_gnuplot(const fs::path& figures, const std::string& script, std::vector<std::string>& notes) {
  const std::string command = fmt::format("cd '{}' && gnuplot '{}' > /dev/null 2>&1", figures.string(), script);
  if (std::system(command.c_str()) != 0) notes.push_back(fmt::format("gnuplot could not draw figures/{}", script));
}

const char* kTerminal =
    "set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'\nset termoption noenhanced\n"
    "set grid\nset key outside right top\n";

}  // namespace

namespace {

// The grid's head counts (most first, so the shallow model leads) and schemes (in the
// preset's order).
std::pair<std::set<int64_t, std::greater<>>, std::vector<std::string>> grid_axes(const json& results) {
  std::set<int64_t, std::greater<>> heads;
  std::vector<std::string> schemes;
  for (const auto& run : results["runs"]) {
    heads.insert(run["heads"].get<int64_t>());
    if (std::find(schemes.begin(), schemes.end(), run["scheme"]) == schemes.end()) schemes.push_back(run["scheme"]);
  }
  return {heads, schemes};
}

// The deeper model against the shallow one, seed by seed (the seeds both have a test
// score for). gain > 0: the deeper model is better.
struct PairedGain {
  int64_t wins = 0;
  Spread gain;
};

PairedGain paired_gain(const std::map<int64_t, double>& deep, const std::map<int64_t, double>& shallow, bool lower) {
  PairedGain paired;
  std::vector<double> differences;
  for (const auto& [seed, value] : deep) {
    if (!shallow.count(seed)) continue;
    paired.wins += better(value, shallow.at(seed), lower);
    differences.push_back(lower ? shallow.at(seed) - value : value - shallow.at(seed));
  }
  paired.gain = spread_of(differences);
  return paired;
}

int64_t diverged_seeds(const json& results, int64_t heads, const std::string& scheme) {
  int64_t count = 0;
  for (const auto& run : results["runs"])
    count += run["heads"] == heads && run["scheme"] == scheme && run.value("status", "") == "diverged";
  return count;
}

// The scheme with the best mean test score for an architecture ("" when none has one).
std::string best_scheme(const json& results, int64_t heads, const std::vector<std::string>& schemes, bool lower) {
  std::string best;
  double best_mean = 0;
  for (const auto& scheme : schemes) {
    std::vector<double> values;
    for (const auto& [seed, value] : metric_by_seed(results, heads, scheme)) values.push_back(value);
    if (values.empty()) continue;
    const double mean = spread_of(values).mean;
    if (best.empty() || better(mean, best_mean, lower)) best = scheme, best_mean = mean;
  }
  return best;
}

}  // namespace

json study_findings(const json& results) {
  const std::string metric = results["metric"];
  const bool lower = results["lower_is_better"];
  const std::string metric_name = metric == "wer" ? "WER" : "BLEU";
  const int64_t shallow = results["shallow_heads"];
  const auto axes = grid_axes(results);
  const auto& heads = axes.first;
  const auto& schemes = axes.second;

  json findings = json::array();
  if (!results["complete"].get<bool>()) {
    int64_t trained = 0;
    for (const auto& run : results["runs"]) trained += ended(run);
    findings.push_back(fmt::format("Study incomplete: {} of {} runs trained so far; every finding below uses those only.",
                                   trained, results["runs"].size()));
  }
  // RQ2/RQ3: which (architecture, scheme) trained, diverged, finished without learning, or
  // finished far behind the rest. A budget-limited run that converges slowly does not
  // diverge, but ending 20% worse than the best run of its seed is the same instability
  // the paper means, seen early.
  constexpr double kFarBehind = 0.2;  // relative to the best run of the same seed
  std::map<int64_t, double> best_of_seed;
  for (const auto& run : results["runs"]) {
    if (!run.contains("test_metric")) continue;
    const int64_t seed = run["seed"];
    const double value = run["test_metric"];
    if (!best_of_seed.count(seed) || better(value, best_of_seed[seed], lower)) best_of_seed[seed] = value;
  }
  auto far_behind = [&](const json& run) {
    const double value = run["test_metric"], best = best_of_seed.at(run["seed"].get<int64_t>());
    return lower ? value > (1 + kFarBehind) * best : value < (1 - kFarBehind) * best;
  };
  for (int64_t h : heads) {
    for (const auto& scheme : schemes) {
      int64_t total = 0, diverged = 0, failed = 0, stuck = 0, behind = 0;
      std::vector<std::string> where;
      for (const auto& run : results["runs"]) {
        if (run["heads"] != h || run["scheme"] != scheme) continue;
        const std::string status = run.value("status", "");
        if (!ended(run)) continue;
        ++total;
        if (status == "diverged") {
          ++diverged;
          if (run["diverged_at_update"].is_number()) where.push_back(std::to_string(run["diverged_at_update"].get<int64_t>()));
        } else if (status != "finished") {
          ++failed;
        } else if (metric == "wer" && run.contains("test_metric") && run["test_metric"].get<double>() >= 90.0) {
          ++stuck;
        } else if (run.contains("test_metric") && far_behind(run)) {
          ++behind;
        }
      }
      if (diverged || stuck || failed || behind) {
        std::string text = fmt::format("Stability (RQ3): {} with {}:", architecture_of(results, h), scheme);
        if (diverged)
          text += fmt::format(" diverged in {}/{} seeds (at update {});", diverged, total, fmt::join(where, ", "));
        if (stuck) text += fmt::format(" finished but did not learn (test WER of 90% or more) in {}/{} seeds;", stuck, total);
        if (behind)
          text += fmt::format(" finished far behind (test {} more than {:.0f}% {} than the best run of the same seed) in {}/{} seeds;",
                              metric_name, 100 * kFarBehind, lower ? "higher" : "lower", behind, total);
        if (failed) text += fmt::format(" did not finish in {}/{} seeds;", failed, total);
        text.back() = '.';
        findings.push_back(text);
      } else if (total) {
        findings.push_back(fmt::format("Stability (RQ3): {} with {} trained stably in {}/{} seeds.",
                                       architecture_of(results, h), scheme, total, total));
      }
    }
  }
  // RQ4: the deeper model against the shallow one at the same weights budget, with the same
  // scheme, and each with its best scheme.
  auto comparison = [&](int64_t h, const std::string& deep_scheme, const std::string& shallow_scheme,
                        const std::string& label) -> std::optional<PairedGain> {
    const auto paired = paired_gain(metric_by_seed(results, h, deep_scheme), metric_by_seed(results, shallow, shallow_scheme), lower);
    if (paired.gain.n == 0) return std::nullopt;
    const auto& g = paired.gain;
    const std::string size = g.n > 1 ? fmt::format("{:.2f} ± {:.2f} {} points (mean ± sd over {} seeds)", std::abs(g.mean),
                                                   g.sd, metric_name, g.n)
                                     : fmt::format("{:.2f} {} points (one seed)", std::abs(g.mean), metric_name);
    std::string text = fmt::format("{}: {} {} ({}) vs shallow {} ({}): the deeper model is {} by {}, better on {}/{} seeds",
                                   label, h == 1 ? "deep single-head" : "deeper", architecture_of(results, h), deep_scheme,
                                   architecture_of(results, shallow), shallow_scheme, g.mean >= 0 ? "ahead" : "behind",
                                   size, paired.wins, g.n);
    const int64_t deep_diverged = diverged_seeds(results, h, deep_scheme);
    const int64_t shallow_diverged = diverged_seeds(results, shallow, shallow_scheme);
    if (deep_diverged || shallow_diverged)
      text += fmt::format("; diverged seeds, not counted: {} deep, {} shallow", deep_diverged, shallow_diverged);
    findings.push_back(text + ".");
    return paired;
  };
  json gains = json::array();
  for (int64_t h : heads) {
    if (h == shallow) continue;
    for (const auto& scheme : schemes)
      if (const auto paired = comparison(h, scheme, scheme, "Equal size (RQ4)"))
        gains.push_back({{"scheme", scheme}, {"heads", h}, {"unrolled", shallow / h}, {"gain", paired->gain.mean},
                         {"sd", paired->gain.sd}, {"seeds", paired->gain.n}});
    const auto deep_best = best_scheme(results, h, schemes, lower), shallow_best = best_scheme(results, shallow, schemes, lower);
    if (!deep_best.empty() && !shallow_best.empty() && deep_best != shallow_best)
      comparison(h, deep_best, shallow_best, "Equal size, each with its best scheme (RQ4)");
  }
  // RQ5: does the gain grow with the number of heads unrolled into depth? A monotone run of
  // means is only called a trend when its whole change is larger than the seed-to-seed
  // spread of its points: with three seeds a difference inside one sd is noise.
  for (const auto& scheme : schemes) {
    struct Point {
      int64_t unrolled;
      double gain, sd;
      int64_t seeds;
    };
    std::vector<Point> points;
    for (const auto& g : gains)
      if (g["scheme"] == scheme)
        points.push_back({g["unrolled"].get<int64_t>(), g["gain"].get<double>(), g["sd"].get<double>(),
                          g["seeds"].get<int64_t>()});
    if (points.size() < 2) continue;
    std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.unrolled < b.unrolled; });
    bool grows = true, shrinks = true, one_seed = false;
    double widest = 0;
    std::vector<std::string> shown;
    for (size_t i = 0; i < points.size(); ++i) {
      shown.push_back(fmt::format("{:+.2f} at {}x", points[i].gain, points[i].unrolled));
      widest = std::max(widest, points[i].sd);
      one_seed |= points[i].seeds < 2;
      if (i > 0) grows &= points[i].gain > points[i - 1].gain, shrinks &= points[i].gain < points[i - 1].gain;
    }
    const double change = std::abs(points.back().gain - points.front().gain);
    const char* direction = grows ? "grows with the heads unrolled" : "shrinks as more heads are unrolled";
    std::string verdict;
    if (!grows && !shrinks)
      verdict = "the gain does not change monotonically";
    else if (one_seed)
      verdict = fmt::format("the gain {} (one seed at some points: the spread is unknown)", direction);
    else if (change > widest)
      verdict = fmt::format("the gain {}, by more than the seeds' spread (sd up to {:.2f})", direction, widest);
    else
      verdict = fmt::format("its change from {}x to {}x ({:.2f}) is within the seeds' spread (sd up to {:.2f}): no trend shown",
                            points.front().unrolled, points.back().unrolled, change, widest);
    findings.push_back(fmt::format("Gain against heads unrolled (RQ5), {}: {} {} points; {}.", scheme, fmt::join(shown, ", "),
                                   metric_name, verdict));
  }
  // Training speed: target tokens a second, mean over the runs that finished.
  auto mean_training_speed = [&](int64_t h) {
    std::vector<double> values;
    for (const auto& run : results["runs"])
      if (run["heads"] == h && run.value("status", "") == "finished" && run.contains("tokens_per_s"))
        values.push_back(run["tokens_per_s"].get<double>());
    return spread_of(values);
  };
  const auto shallow_speed = mean_training_speed(shallow);
  for (int64_t h : heads) {
    const auto deep_speed = mean_training_speed(h);
    if (h == shallow || deep_speed.n == 0 || shallow_speed.n == 0 || shallow_speed.mean <= 0) continue;
    findings.push_back(fmt::format(
        "Training speed: {} trains {:.2f}x as many target tokens a second as {} ({:.0f} against {:.0f}, means over {} and {} "
        "finished runs).",
        architecture_of(results, h), deep_speed.mean / shallow_speed.mean, architecture_of(results, shallow),
        deep_speed.mean, shallow_speed.mean, deep_speed.n, shallow_speed.n));
  }
  // Inference speed at equal size (the paper: about the same, depending on batch and length).
  std::map<std::pair<int64_t, int64_t>, double> speed;  // (heads, batch*1000+length) -> tokens/s
  for (const auto& t : results["inference"])
    speed[{t["heads"].get<int64_t>(), t["batch"].get<int64_t>() * 1000 + t["length"].get<int64_t>()}] = t["tokens_per_s"];
  for (int64_t h : heads) {
    if (h == shallow) continue;
    std::vector<std::string> ratios;
    for (const auto& [key, value] : speed)
      if (key.first == h && speed.count({shallow, key.second}))
        ratios.push_back(fmt::format("{:.2f}x at batch {} length {}", value / speed.at({shallow, key.second}),
                                     key.second / 1000, key.second % 1000));
    if (!ratios.empty())
      findings.push_back(fmt::format("Inference (RQ4): {} decodes at {} the speed of {}.", architecture_of(results, h),
                                     fmt::join(ratios, ", "), architecture_of(results, shallow)));
  }
  return {{"findings", findings}, {"gain_vs_heads", gains}};
}

void write_report(json& results, const std::string& out_dir) {
  const fs::path out(out_dir), figures = out / "figures", data = figures / "data";
  fs::create_directories(data);
  const std::string metric = results["metric"];
  const bool lower = results["lower_is_better"];
  const std::string metric_name = metric == "wer" ? "WER" : "BLEU";
  const auto axes = grid_axes(results);
  const auto& heads = axes.first;
  const auto& schemes = axes.second;
  const auto computed = study_findings(results);
  const json& findings = computed["findings"];
  const json& gains = computed["gain_vs_heads"];
  results["findings"] = findings;
  results["gain_vs_heads"] = gains;

  // ---- figure data and scripts ----
  std::vector<std::string> notes;
  std::string loss_plots, metric_plots, diverged_points;
  double highest_loss = 0;
  for (const auto& run : results["runs"])
    for (const auto& p : run["dev_curve"]) highest_loss = std::max(highest_loss, p["loss"].get<double>());
  std::set<std::string> titled_cells;
  std::set<int64_t> seeds;
  for (const auto& run : results["runs"]) seeds.insert(run["seed"].get<int64_t>());
  const size_t seeds_in_grid = seeds.size();
  for (const auto& run : results["runs"]) {
    const std::string name = run["name"];
    std::ofstream dat(data / (name + ".dev.dat"));
    dat << "# update dev_loss dev_" << metric << " elapsed_s\n";
    for (const auto& p : run["dev_curve"])
      dat << p["update"] << " " << p["loss"] << " " << (p["metric"].is_number() ? p["metric"].dump() : "NaN") << " "
          << p["elapsed_s"] << "\n";
    if (!run["dev_curve"].empty()) {
      // Colour by scheme, dash and point by architecture, one key entry for all seeds of a
      // cell: a 27-run grid stays readable, and seeds of one cell show as a bundle.
      const int64_t scheme_index = std::find(schemes.begin(), schemes.end(), run["scheme"]) - schemes.begin();
      const int64_t architecture_index = std::distance(heads.begin(), heads.find(run["heads"].get<int64_t>()));
      const std::string cell = fmt::format("{} {}", run["architecture"].get<std::string>(), run["scheme"].get<std::string>());
      const bool first_of_cell = titled_cells.insert(cell).second;
      std::string title = "notitle";
      if (first_of_cell)
        title = fmt::format("title '{}{}'", cell, seeds_in_grid > 1 ? fmt::format(" ({} seeds)", seeds_in_grid) : "");
      const std::string style =
          fmt::format("with linespoints lc {} dt {} pt {} {}", scheme_index + 1, architecture_index + 1, 2 * architecture_index + 5, title);
      loss_plots += fmt::format("{}'data/{}.dev.dat' using 1:2 {}", loss_plots.empty() ? "" : ", \\\n     ", name, style);
      metric_plots += fmt::format("{}'data/{}.dev.dat' using ($4/60):3 {}", metric_plots.empty() ? "" : ", \\\n     ", name, style);
    }
    if (run.value("status", "") == "diverged" && run["diverged_at_update"].is_number())
      diverged_points += fmt::format("{} {} {}\n", run["diverged_at_update"].get<int64_t>(), highest_loss > 0 ? highest_loss : 1.0, name);
  }
  {
    std::ofstream(data / "diverged.dat") << "# update y run\n" << diverged_points;
    if (!diverged_points.empty())
      loss_plots += std::string(loss_plots.empty() ? "" : ", \\\n     ") +
                    "'data/diverged.dat' using 1:2:3 with labels point pt 2 ps 2 lc rgb 'red' offset 0,1 title 'diverged (at update)'";
    if (!loss_plots.empty()) {
      std::ofstream(figures / "dev_loss.gp") << kTerminal << "set output 'dev_loss.svg'\nset title 'Dev loss against updates'\n"
                                             << "set xlabel 'update'\nset ylabel 'dev loss (label-smoothed, nats per token)'\n"
                                             << "plot " << loss_plots << "\n";
      run_gnuplot(figures, "dev_loss.gp", notes);
    }
    if (!metric_plots.empty()) {
      std::ofstream(figures / "dev_metric_time.gp") << kTerminal << "set output 'dev_metric_time.svg'\n"
                                                    << fmt::format("set title 'Dev {} (greedy) against wall time'\n", metric_name)
                                                    << "set xlabel 'minutes'\n"
                                                    << fmt::format("set ylabel 'dev {}'\n", metric_name)
                                                    << "plot " << metric_plots << "\n";
      run_gnuplot(figures, "dev_metric_time.gp", notes);
    }
  }
  if (!gains.empty()) {
    std::string plots;
    std::vector<int64_t> unrolled{1};
    for (const auto& g : gains) unrolled.push_back(g["unrolled"]);
    std::sort(unrolled.begin(), unrolled.end());
    unrolled.erase(std::unique(unrolled.begin(), unrolled.end()), unrolled.end());
    for (const auto& scheme : schemes) {
      std::ofstream dat(data / ("gain_" + scheme + ".dat"));
      // The shallow model against itself (1x, gain 0) anchors each line.
      dat << "# heads_unrolled_into_depth gain_" << metric << "_points sd_over_seeds seeds\n1 0 0 0\n";
      bool any = false;
      for (const auto& g : gains)
        if (g["scheme"] == scheme)
          dat << g["unrolled"] << " " << g["gain"] << " " << g["sd"] << " " << g["seeds"] << "\n", any = true;
      if (any)
        plots += fmt::format("{}'data/gain_{}.dat' using 1:2:3 with yerrorlines title '{}'",
                             plots.empty() ? "" : ", ", scheme, scheme);
    }
    std::ofstream(figures / "gain_vs_heads.gp")
        << kTerminal << "set output 'gain_vs_heads.svg'\n"
        << fmt::format("set title 'Gain of the deeper model over the shallow one (test {}, same scheme; mean ± sd over seeds)'\n", metric_name)
        << "set xlabel 'heads unrolled into depth (shallow heads / heads per layer)'\n"
        << fmt::format("set ylabel '{} points ({})'\n", metric_name, lower ? "shallow minus deep" : "deep minus shallow")
        << fmt::format("set xzeroaxis\nset logscale x 2\nset xrange [0.9:{}]\nset xtics ({})\n", 1.15 * unrolled.back(),
                       fmt::join(unrolled, ", "))
        << "plot " << plots << "\n";
    run_gnuplot(figures, "gain_vs_heads.gp", notes);
  }
  if (!results["inference"].empty()) {
    std::string plots;
    std::set<std::pair<int64_t, int64_t>> series;
    for (const auto& t : results["inference"])
      series.insert(std::make_pair(t["heads"].get<int64_t>(), t["length"].get<int64_t>()));
    for (const auto& [h, length] : series) {
      const std::string file = fmt::format("inference_{}H_len{}.dat", h, length);
      std::ofstream dat(data / file);
      dat << "# batch tokens_per_s median_ms\n";
      for (const auto& t : results["inference"])
        if (t["heads"] == h && t["length"] == length) dat << t["batch"] << " " << t["tokens_per_s"] << " " << t["median_ms"] << "\n";
      plots += fmt::format("{}'data/{}' using 1:2 with linespoints title '{} length {}'", plots.empty() ? "" : ", ", file,
                           architecture_of(results, h), length);
    }
    std::ofstream(figures / "inference_speed.gp") << kTerminal << "set output 'inference_speed.svg'\n"
                                                  << "set title 'Decoding speed (greedy, as many output tokens as input)'\n"
                                                  << "set xlabel 'batch size'\nset ylabel 'output tokens per second'\n"
                                                  << "set logscale xy\nplot " << plots << "\n";
    run_gnuplot(figures, "inference_speed.gp", notes);
  }

  // ---- report.md ----
  const int jobs = results.value("jobs", 1), threads = results["threads"].get<int>();
  const int per_run = results.value("threads_per_run", std::max(1, threads / jobs));
  const std::string threads_line =
      jobs > 1 ? fmt::format("{} ({} runs trained at a time, {} thread{} each; inference measured alone on all {})",
                             threads, jobs, per_run, per_run > 1 ? "s" : "", threads)
               : std::to_string(threads);
  std::string md = fmt::format("# Comparison: preset `{}`\n\n{}\n\nCommand: `{}`  \nThreads: {}{}\n\n", results["preset"].get<std::string>(),
                               results["description"].get<std::string>(), results["command"].get<std::string>(),
                               threads_line, results["complete"] ? "" : "  \n**Incomplete: part of the grid is not trained yet; re-run the same command to finish it.**");
  md += "## Findings\n\nComputed from the tables below by `src/study/report.cpp`.\n\n";
  for (const auto& f : findings) md += "- " + f.get<std::string>() + "\n";
  md += fmt::format("\n## Runs\n\nTest {} uses the run's best dev checkpoint and its eval.beam; dev is greedy.\n\n", metric_name);
  md += fmt::format("| run | architecture | params | scheme | seed | status | best dev {} | test {} | updates | train time (s) | tokens/s | peak MiB |\n",
                    metric_name, metric_name);
  md += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& run : results["runs"]) {
    const json best = run.contains("best_dev") ? run["best_dev"].value("value", json()) : json();
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", run["name"].get<std::string>(),
                      run["architecture"].get<std::string>(), run.contains("parameters") ? run["parameters"].dump() : "–",
                      run["scheme"].get<std::string>(), run["seed"].get<int64_t>(), status_text(run), number(best),
                      number(run.value("test_metric", json())), run.contains("updates") ? run["updates"].dump() : "–",
                      number(run.value("train_time_s", json()), 0), number(run.value("tokens_per_s", json()), 0),
                      number(run.value("peak_rss_mib", json()), 0));
  }
  md += fmt::format("\n## Means over seeds\n\n| architecture | scheme | finished | diverged | test {} mean | sd |\n|---|---|---|---|---|---|\n", metric_name);
  for (int64_t h : heads)
    for (const auto& scheme : schemes) {
      int64_t finished = 0, diverged = 0;
      std::vector<double> values;
      for (const auto& run : results["runs"]) {
        if (run["heads"] != h || run["scheme"] != scheme) continue;
        finished += run.value("status", "") == "finished";
        diverged += run.value("status", "") == "diverged";
        if (run.contains("test_metric")) values.push_back(run["test_metric"]);
      }
      const auto s = spread_of(values);
      md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", architecture_of(results, h), scheme, finished, diverged,
                        s.n ? fmt::format("{:.2f}", s.mean) : "–", s.n > 1 ? fmt::format("{:.2f}", s.sd) : "–");
    }
  if (!results["inference"].empty()) {
    md += "\n## Inference speed\n\nMeasured in one process, one trained model per architecture: encode a batch of random "
          "sources, then decode as many tokens as the source has. The architectures are timed in interleaved rounds "
          "(each once a round), so a slow spell of the machine hits all of them alike; median over the rounds.\n\n"
          "| architecture | batch | length | median ms | sentences/s | tokens/s |\n|---|---|---|---|---|---|\n";
    for (const auto& t : results["inference"])
      md += fmt::format("| {} | {} | {} | {:.1f} | {:.1f} | {:.0f} |\n", t["architecture"].get<std::string>(),
                        t["batch"].get<int64_t>(), t["length"].get<int64_t>(), t["median_ms"].get<double>(),
                        t["sentences_per_s"].get<double>(), t["tokens_per_s"].get<double>());
  }
  md += "\n## Figures\n\nData files and gnuplot scripts are in `figures/` and `figures/data/`; "
        "run `gnuplot NAME.gp` there to redraw.\n\n";
  for (const char* figure : {"dev_loss", "dev_metric_time", "gain_vs_heads", "inference_speed"})
    if (fs::exists(figures / (std::string(figure) + ".svg")))
      md += fmt::format("![{}](figures/{}.svg)\n\n", figure, figure);
  for (const auto& n : notes) md += "- " + n + "\n";
  results["figure_notes"] = notes;
  write_file_atomically((out / "report.md").string(), md);
}

}  // namespace headcount
