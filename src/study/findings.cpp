#include "study/findings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join lives here from fmt 11 (the one bundled in PyTorch wheels)

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace headcount {

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

GridAxes grid_axes(const StudyResults& results) {
  GridAxes axes;
  for (const auto& run : results.runs) {
    axes.heads.insert(run.heads);
    if (std::find(axes.schemes.begin(), axes.schemes.end(), run.scheme) == axes.schemes.end())
      axes.schemes.push_back(run.scheme);
  }
  return axes;
}

std::string architecture_of(const StudyResults& results, int64_t heads) {
  for (const auto& run : results.runs)
    if (run.heads == heads) return run.architecture;
  return "?";
}

namespace {

// The test metric of each seed of one (architecture, scheme), by seed.
std::map<int64_t, double> metric_by_seed(const StudyResults& results, int64_t heads, const std::string& scheme) {
  std::map<int64_t, double> out;
  for (const auto& run : results.runs)
    if (run.heads == heads && run.scheme == scheme && run.test_metric) out[run.seed] = *run.test_metric;
  return out;
}

// The deeper model against the shallow one, seed by seed (the seeds both have a test
// score for). gain > 0: the deeper model is better.
struct PairedGain {
  int64_t wins = 0;
  Spread gain;
};

PairedGain paired_gain(const std::map<int64_t, double>& deep, const std::map<int64_t, double>& shallow,
                       const MetricInfo& metric) {
  PairedGain paired;
  std::vector<double> differences;
  for (const auto& [seed, value] : deep) {
    if (!shallow.count(seed)) continue;
    paired.wins += metric.better(value, shallow.at(seed));
    differences.push_back(metric.lower_is_better ? shallow.at(seed) - value : value - shallow.at(seed));
  }
  paired.gain = spread_of(differences);
  return paired;
}

int64_t diverged_seeds(const StudyResults& results, int64_t heads, const std::string& scheme) {
  int64_t count = 0;
  for (const auto& run : results.runs) count += run.heads == heads && run.scheme == scheme && run.status == RunStatus::Diverged;
  return count;
}

// The scheme with the best mean test score for an architecture ("" when none has one).
std::string best_scheme(const StudyResults& results, int64_t heads, const std::vector<std::string>& schemes) {
  std::string best;
  double best_mean = 0;
  for (const auto& scheme : schemes) {
    std::vector<double> values;
    for (const auto& [seed, value] : metric_by_seed(results, heads, scheme)) values.push_back(value);
    if (values.empty()) continue;
    const double mean = spread_of(values).mean;
    if (best.empty() || results.metric.better(mean, best_mean)) best = scheme, best_mean = mean;
  }
  return best;
}

// A budget-limited run that converges slowly does not diverge, but ending 20% worse than
// the best run of its seed is the same instability the paper means, seen early.
constexpr double kFarBehind = 0.2;  // relative to the best run of the same seed

// Counts of how the ended runs of one (architecture, scheme) went.
struct Outcomes {
  int64_t total = 0, diverged = 0, failed = 0, not_learned = 0, behind = 0;
  std::vector<std::string> diverged_at;
};

Outcomes outcomes_of(const StudyResults& results, int64_t heads, const std::string& scheme,
                     const std::map<int64_t, double>& best_of_seed) {
  const auto& m = results.metric;
  auto far_behind = [&](const RunRow& run) {
    const double value = *run.test_metric, best = best_of_seed.at(run.seed);
    return m.lower_is_better ? value > (1 + kFarBehind) * best : value < (1 - kFarBehind) * best;
  };
  auto did_not_learn = [&](double value) {
    return !std::isnan(m.not_learned_at) && (m.lower_is_better ? value >= m.not_learned_at : value <= m.not_learned_at);
  };
  Outcomes o;
  for (const auto& run : results.runs) {
    if (run.heads != heads || run.scheme != scheme || !run.ended()) continue;
    ++o.total;
    if (run.status == RunStatus::Diverged) {
      ++o.diverged;
      if (run.diverged_at_update) o.diverged_at.push_back(std::to_string(*run.diverged_at_update));
    } else if (run.status != RunStatus::Finished) {
      ++o.failed;
    } else if (run.test_metric && did_not_learn(*run.test_metric)) {
      ++o.not_learned;
    } else if (run.test_metric && far_behind(run)) {
      ++o.behind;
    }
  }
  return o;
}

// RQ2/RQ3: which (architecture, scheme) trained, diverged, finished without learning, or
// finished far behind the rest.
void stability_findings(const StudyResults& results, const GridAxes& axes, std::vector<std::string>& out) {
  const auto& m = results.metric;
  std::map<int64_t, double> best_of_seed;
  for (const auto& run : results.runs) {
    if (!run.test_metric) continue;
    if (!best_of_seed.count(run.seed) || m.better(*run.test_metric, best_of_seed[run.seed]))
      best_of_seed[run.seed] = *run.test_metric;
  }
  for (int64_t h : axes.heads)
    for (const auto& scheme : axes.schemes) {
      const auto o = outcomes_of(results, h, scheme, best_of_seed);
      const std::string cell = fmt::format("{} with {}", architecture_of(results, h), scheme);
      if (!(o.diverged || o.not_learned || o.failed || o.behind)) {
        if (o.total) out.push_back(fmt::format("Stability (RQ3): {} trained stably in {}/{} seeds.", cell, o.total, o.total));
        continue;
      }
      std::string text = fmt::format("Stability (RQ3): {}:", cell);
      if (o.diverged)
        text += fmt::format(" diverged in {}/{} seeds (at update {});", o.diverged, o.total, fmt::join(o.diverged_at, ", "));
      if (o.not_learned)
        text += fmt::format(" finished but did not learn (test {} of {:g}{} or {}) in {}/{} seeds;", m.name,
                            m.not_learned_at, m.unit, m.lower_is_better ? "more" : "less", o.not_learned, o.total);
      if (o.behind)
        text += fmt::format(" finished far behind (test {} more than {:.0f}% {} than the best run of the same seed) in {}/{} seeds;",
                            m.name, 100 * kFarBehind, m.lower_is_better ? "higher" : "lower", o.behind, o.total);
      if (o.failed) text += fmt::format(" did not finish in {}/{} seeds;", o.failed, o.total);
      text.back() = '.';
      out.push_back(text);
    }
}

// RQ4: the deeper model against the shallow one at the same weights budget, with the same
// scheme, and each with its best scheme. Returns the same-scheme gains.
std::vector<Gain> equal_size_findings(const StudyResults& results, const GridAxes& axes, std::vector<std::string>& out) {
  const auto& m = results.metric;
  const int64_t shallow = results.shallow_heads;
  auto comparison = [&](int64_t h, const std::string& deep_scheme, const std::string& shallow_scheme,
                        const std::string& label) -> std::optional<PairedGain> {
    const auto paired =
        paired_gain(metric_by_seed(results, h, deep_scheme), metric_by_seed(results, shallow, shallow_scheme), m);
    if (paired.gain.n == 0) return std::nullopt;
    const auto& g = paired.gain;
    const std::string size = g.n > 1 ? fmt::format("{:.2f} ± {:.2f} {} points (mean ± sd over {} seeds)", std::abs(g.mean),
                                                   g.sd, m.name, g.n)
                                     : fmt::format("{:.2f} {} points (one seed)", std::abs(g.mean), m.name);
    std::string text = fmt::format("{}: {} {} ({}) vs shallow {} ({}): the deeper model is {} by {}, better on {}/{} seeds",
                                   label, h == 1 ? "deep single-head" : "deeper", architecture_of(results, h), deep_scheme,
                                   architecture_of(results, shallow), shallow_scheme, g.mean >= 0 ? "ahead" : "behind",
                                   size, paired.wins, g.n);
    const int64_t deep_diverged = diverged_seeds(results, h, deep_scheme);
    const int64_t shallow_diverged = diverged_seeds(results, shallow, shallow_scheme);
    if (deep_diverged || shallow_diverged)
      text += fmt::format("; diverged seeds, not counted: {} deep, {} shallow", deep_diverged, shallow_diverged);
    out.push_back(text + ".");
    return paired;
  };
  std::vector<Gain> gains;
  for (int64_t h : axes.heads) {
    if (h == shallow) continue;
    for (const auto& scheme : axes.schemes)
      if (const auto paired = comparison(h, scheme, scheme, "Equal size (RQ4)"))
        gains.push_back({scheme, h, shallow / h, paired->gain.mean, paired->gain.sd, paired->gain.n});
    const auto deep_best = best_scheme(results, h, axes.schemes), shallow_best = best_scheme(results, shallow, axes.schemes);
    if (!deep_best.empty() && !shallow_best.empty() && deep_best != shallow_best)
      comparison(h, deep_best, shallow_best, "Equal size, each with its best scheme (RQ4)");
  }
  return gains;
}

// RQ5: does the gain grow with the number of heads unrolled into depth? A monotone run of
// means is only called a trend when its whole change is larger than the seed-to-seed
// spread of its points: with three seeds a difference inside one sd is noise.
void trend_findings(const StudyResults& results, const GridAxes& axes, const std::vector<Gain>& gains,
                    std::vector<std::string>& out) {
  for (const auto& scheme : axes.schemes) {
    std::vector<Gain> points;
    for (const auto& g : gains)
      if (g.scheme == scheme) points.push_back(g);
    if (points.size() < 2) continue;
    std::sort(points.begin(), points.end(), [](const Gain& a, const Gain& b) { return a.unrolled < b.unrolled; });
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
    out.push_back(fmt::format("Gain against heads unrolled (RQ5), {}: {} {} points; {}.", scheme, fmt::join(shown, ", "),
                              results.metric.name, verdict));
  }
}

// Training speed: tokens a second as the task counts them, mean over the runs that finished.
void training_speed_findings(const StudyResults& results, const GridAxes& axes, std::vector<std::string>& out) {
  auto mean_speed = [&](int64_t h) {
    std::vector<double> values;
    for (const auto& run : results.runs)
      if (run.heads == h && run.status == RunStatus::Finished && run.tokens_per_s) values.push_back(*run.tokens_per_s);
    return spread_of(values);
  };
  const int64_t shallow = results.shallow_heads;
  const auto shallow_speed = mean_speed(shallow);
  for (int64_t h : axes.heads) {
    const auto deep_speed = mean_speed(h);
    if (h == shallow || deep_speed.n == 0 || shallow_speed.n == 0 || shallow_speed.mean <= 0) continue;
    out.push_back(fmt::format(
        "Training speed: {} trains {:.2f}x as many {} a second as {} ({:.0f} against {:.0f}, means over {} and {} "
        "finished runs).",
        architecture_of(results, h), deep_speed.mean / shallow_speed.mean, results.generates ? "target tokens" : "tokens",
        architecture_of(results, shallow),
        deep_speed.mean, shallow_speed.mean, deep_speed.n, shallow_speed.n));
  }
}

// Inference speed at equal size (the paper: about the same, depending on batch and length).
void inference_findings(const StudyResults& results, const GridAxes& axes, std::vector<std::string>& out) {
  const int64_t shallow = results.shallow_heads;
  std::map<std::pair<int64_t, int64_t>, double> speed;  // (heads, batch*1000+length) -> tokens/s
  for (const auto& t : results.inference) speed[{t.heads, t.batch * 1000 + t.length}] = t.tokens_per_s;
  for (int64_t h : axes.heads) {
    if (h == shallow) continue;
    std::vector<std::string> ratios;
    for (const auto& [key, value] : speed)
      if (key.first == h && speed.count({shallow, key.second}))
        ratios.push_back(fmt::format("{:.2f}x at batch {} length {}", value / speed.at({shallow, key.second}),
                                     key.second / 1000, key.second % 1000));
    if (!ratios.empty())
      out.push_back(fmt::format("Inference (RQ4): {} {} at {} the speed of {}.", architecture_of(results, h),
                                results.generates ? "decodes" : "encodes", fmt::join(ratios, ", "),
                                architecture_of(results, shallow)));
  }
}

// For one architecture and scheme: the downstream metric by fine-tuning seed, from
// pretraining (the mean over pretraining seeds) or from scratch.
std::map<int64_t, double> downstream_by_seed(const DownstreamResults& d, int64_t heads, const std::string& scheme,
                                             bool pretrained) {
  std::map<int64_t, std::vector<double>> values;
  for (const auto& run : d.runs)
    if (run.heads == heads && run.scheme == scheme && run.pretrained.empty() != pretrained && run.test_metric)
      values[run.finetune_seed].push_back(*run.test_metric);
  std::map<int64_t, double> out;
  for (const auto& [seed, list] : values) out[seed] = spread_of(list).mean;
  return out;
}

void pretraining_findings(const DownstreamResults& d, const GridAxes& axes, const StudyResults& grid,
                          std::vector<std::string>& out) {
  for (int64_t h : axes.heads)
    for (const auto& scheme : axes.schemes) {
      const auto paired = paired_gain(downstream_by_seed(d, h, scheme, true), downstream_by_seed(d, h, scheme, false), d.metric);
      if (paired.gain.n == 0) continue;
      const auto& g = paired.gain;
      const std::string size = g.n > 1 ? fmt::format("{:.2f} ± {:.2f} {} points (mean ± sd over {} seeds)", std::abs(g.mean),
                                                     g.sd, d.metric.name, g.n)
                                       : fmt::format("{:.2f} {} points (one seed)", std::abs(g.mean), d.metric.name);
      out.push_back(fmt::format("Pretraining ({}): {} with {} fine-tuned from pretraining vs trained from scratch: "
                                "pretraining is {} by {}, better on {}/{} seeds.",
                                d.name, architecture_of(grid, h), scheme, g.mean >= 0 ? "ahead" : "behind", size,
                                paired.wins, g.n));
    }
}

// The stack RQ1 is read on: the encoder when there is one.
std::string main_stack(const AttentionAnalysis& a) {
  for (const auto& l : a.layers)
    if (l.stack == "encoder") return "encoder";
  return "decoder";
}

// Means over a stack's self-attention layers: effective positions per head, covered by the union.
std::pair<double, double> per_layer_means(const AttentionAnalysis& a, const std::string& stack) {
  double effective = 0, covered = 0, n = 0;
  for (const auto& l : a.layers)
    if (l.stack == stack && l.kind == "self") effective += l.effective_positions, covered += l.covered_positions, ++n;
  return {n ? effective / n : 0.0, n ? covered / n : 0.0};
}

// RQ1: does a stack of single-head layers attend as many positions as the shallow
// multi-head model, per layer and through the stack?
void attention_findings(const StudyResults& r, std::vector<std::string>& out) {
  const ArchitectureAttention* shallow = nullptr;
  for (const auto& a : r.attention)
    if (a.heads == r.shallow_heads) shallow = &a;
  if (!shallow) return;
  const auto stack = main_stack(shallow->analysis);
  const auto* shallow_top = shallow->analysis.top_rollout(stack);
  const auto [shallow_effective, shallow_covered] = per_layer_means(shallow->analysis, stack);
  for (const auto& a : r.attention) {
    if (&a == shallow) continue;
    const auto* top = a.analysis.top_rollout(stack);
    if (!top || !shallow_top) continue;
    const auto [effective, covered] = per_layer_means(a.analysis, stack);
    std::string text = fmt::format(
        "Positions attended (RQ1), {}: through the stack (attention rollout at the top) {} reaches {:.2f} effective input "
        "positions ({:.2f} carry {:.0f}%) against {:.2f} ({:.2f}) for {}; per layer each of its {} attends {:.2f} positions "
        "on average against {:.2f} for each head of {} ({:.2f} covered by the union of its heads, {:.2f} by {}'s)",
        stack, a.architecture, top->effective_positions, top->positions_for_mass, 100 * a.analysis.options.mass,
        shallow_top->effective_positions, shallow_top->positions_for_mass, shallow->architecture,
        a.heads == 1 ? "single heads" : "heads", effective, shallow_effective, shallow->architecture, shallow_covered,
        covered, a.architecture);
    if (a.analysis.gradient.sentences && shallow->analysis.gradient.sentences)
      text += fmt::format("; the gradient of its encoder's outputs spreads over {:.2f} effective input positions ({:.2f} for "
                          "{:.0f}%) against {:.2f} ({:.2f})",
                          a.analysis.gradient.effective_positions, a.analysis.gradient.positions_for_mass,
                          100 * a.analysis.options.mass, shallow->analysis.gradient.effective_positions,
                          shallow->analysis.gradient.positions_for_mass);
    out.push_back(text + fmt::format(" (the best run of each: {} and {}).", a.run, shallow->run));
  }
}

}  // namespace

std::vector<std::string> downstream_findings(const StudyResults& results, const DownstreamResults& d) {
  StudyResults fine_tuned;
  fine_tuned.metric = d.metric;
  fine_tuned.shallow_heads = results.shallow_heads;
  fine_tuned.complete = true;
  for (auto run : d.runs)
    if (!run.pretrained.empty()) {
      run.seed = run.seed * 1000 + run.finetune_seed;  // a pair is one pretraining seed and one fine-tuning seed
      fine_tuned.runs.push_back(std::move(run));
    }
  std::vector<std::string> sentences, out;
  const auto axes = grid_axes(fine_tuned);
  stability_findings(fine_tuned, axes, sentences);
  equal_size_findings(fine_tuned, axes, sentences);
  for (const auto& s : sentences) out.push_back(fmt::format("Downstream {}, fine-tuned: {}", d.name, s));
  pretraining_findings(d, axes, results, out);
  return out;
}

Findings study_findings(const StudyResults& results) {
  Findings findings;
  auto& out = findings.sentences;
  if (!results.complete) {
    const auto trained = std::count_if(results.runs.begin(), results.runs.end(), [](const RunRow& r) { return r.ended(); });
    out.push_back(fmt::format("Study incomplete: {} of {} runs trained so far; every finding below uses those only.",
                              trained, results.runs.size()));
  }
  const auto axes = grid_axes(results);
  stability_findings(results, axes, out);
  findings.gains = equal_size_findings(results, axes, out);
  trend_findings(results, axes, findings.gains, out);
  attention_findings(results, out);
  training_speed_findings(results, axes, out);
  inference_findings(results, axes, out);
  return findings;
}

}  // namespace headcount
