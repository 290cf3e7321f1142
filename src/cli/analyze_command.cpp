// headcount analyze: how many positions a trained model attends, layer by layer and
// through the stack (src/analysis/attention_analysis.h has the definitions).
#include <fmt/format.h>

#include <iostream>

#include "analysis/attention_analysis.h"
#include "analysis/attention_maps.h"
#include "cli/commands.h"
#include "cli/run_access.h"

namespace headcount {

namespace {

struct AnalyzeOptions {
  std::string run, checkpoint = "best", split = "valid", figure, device;
  int64_t limit = 200, example = 0;
  AnalysisOptions analysis;
  bool json = false;
};

void print_table(const AttentionAnalysis& a, std::ostream& out) {
  out << fmt::format("{} examples; effective positions = exp(entropy), covered = keys with >= {} of some head's "
                     "attention, rollout and gradient: positions carrying {:.0f}% of the weight\n\n",
                     a.examples, a.options.threshold, 100 * a.options.mass);
  out << fmt::format("{:<8} {:>5} {:<5} {:>10} {:>8} {:>6}  per head\n", "stack", "layer", "kind", "effective", "covered",
                     "keys");
  for (const auto& l : a.layers) {
    std::string heads;
    for (const auto& h : l.heads) heads += fmt::format(" {:.2f}", h.effective_positions);
    out << fmt::format("{:<8} {:>5} {:<5} {:>10.2f} {:>8.2f} {:>6.1f} {}\n", l.stack, l.layer + 1, l.kind,
                       l.effective_positions, l.covered_positions, l.real_keys, heads);
  }
  out << fmt::format("\n{:<8} {:>5} {:>10} {:>12}\n", "rollout", "layer", "effective", "positions");
  for (const auto& r : a.rollout)
    out << fmt::format("{:<8} {:>5} {:>10.2f} {:>12.2f}\n", r.stack, r.layer + 1, r.effective_positions, r.positions_for_mass);
  if (a.gradient.sentences)
    out << fmt::format("\ngradient influence (encoder output on input embeddings, {} sentences): {:.2f} effective "
                       "positions, {:.2f} carry {:.0f}% (of {:.1f})\n",
                       a.gradient.sentences, a.gradient.effective_positions, a.gradient.positions_for_mass,
                       100 * a.options.mass, a.gradient.real_positions);
}

}  // namespace

Subcommand add_analyze_command(CLI::App& app) {
  auto o = std::make_shared<AnalyzeOptions>();
  auto* sub = app.add_subcommand("analyze", "how many positions a trained model attends (RQ1), on real inputs of a split");
  sub->add_option("--run", o->run, "run folder")->required();
  sub->add_option("--split", o->split, "train, valid or test (default valid)");
  sub->add_option("--limit", o->limit, "examples of the split (0: all; default 200)");
  sub->add_option("--checkpoint", o->checkpoint, "best, last or average");
  sub->add_option("--device", o->device, "auto, cpu, cuda or cuda:N (default: the run's train.device)");
  sub->add_option("--gradient-limit", o->analysis.gradient_limit, "sentences for the gradient measure (default 16)");
  sub->add_option("--probes", o->analysis.probes, "random probes per output position for the gradient measure (default 4)");
  sub->add_option("--threshold", o->analysis.threshold, "share of a query's attention that covers a key (default 0.1)");
  sub->add_option("--mass", o->analysis.mass, "share of a row's weight to cover, rollout and gradient (default 0.9)");
  sub->add_option("--figure", o->figure, "also draw the attention maps of one example into this folder");
  sub->add_option("--example", o->example, "which example of the split the figure shows (default 0)");
  sub->add_flag("--json", o->json, "print one JSON object");
  return {sub, [o]() -> int {
            const Split split = parse_split(o->split);
            auto run = open_run(o->run, parse_checkpoint_choice(o->checkpoint), o->device);
            run.task->load(o->run, /*create=*/false);
            const auto batches = run.task->input_batches(split, 0, o->limit);
            const auto analysis = analyze_attention(run.model, batches, o->analysis);
            if (!o->figure.empty()) {
              const auto example = run.task->input_batches(split, o->example, 1);
              if (example.empty())
                throw std::invalid_argument(fmt::format("--example {}: the {} split is shorter", o->example, o->split));
              for (const auto& f : write_attention_maps(run.model, example.front(), o->figure)) std::cerr << "wrote " << f << "\n";
            }
            if (o->json) {
              auto json = analysis.to_json();
              json["run"] = o->run, json["split"] = o->split, json["checkpoint"] = o->checkpoint;
              std::cout << json.dump() << "\n";
            } else {
              print_table(analysis, std::cout);
            }
            return 0;
          }};
}

}  // namespace headcount
