// headcount translate / evaluate: use a trained run.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/run_access.h"
#include "runtime/autocast.h"
#include "util/text.h"

namespace headcount {

namespace {
struct UseOptions {
  std::string run, checkpoint = "best", split = "test", device;
  int64_t beam = 0;  // 0: the run's eval.beam
  int64_t limit = 0;
};
}  // namespace

// translate and predict: input lines on stdin, the task's outputs on stdout.
static Subcommand add_prediction_command(CLI::App& app, const std::string& name, const std::string& description) {
  auto options = std::make_shared<UseOptions>();
  auto* sub = app.add_subcommand(name, description);
  sub->add_option("--run", options->run, "run folder")->required();
  sub->add_option("--beam", options->beam, "beam size for seq2seq (default: the run's eval.beam; 1 is greedy)");
  sub->add_option("--checkpoint", options->checkpoint, "best, last or average");
  sub->add_option("--device", options->device, "auto, cpu, cuda or cuda:N (default: the run's train.device)");
  return {sub, [options]() -> int {
            auto run = open_run(options->run, parse_checkpoint_choice(options->checkpoint), options->device);
            run.task->load_for_prediction(options->run);
            const AutocastScope mixed_precision(run.runtime);
            std::vector<std::string> lines;
            for (std::string line; std::getline(std::cin, line);) {
              if (!line.empty() && line.back() == '\r') line.pop_back();
              check_utf8(line, fmt::format("stdin:{}", lines.size() + 1));
              lines.push_back(line);
            }
            const int64_t beam = options->beam > 0 ? options->beam : run.config.eval.beam;
            for (const auto& o : run.task->predict(run.model, lines, beam)) std::cout << o << "\n";
            return 0;
          }};
}

Subcommand add_translate_command(CLI::App& app) {
  return add_prediction_command(app, "translate", "read source lines on stdin, write outputs on stdout");
}

Subcommand add_predict_command(CLI::App& app) {
  return add_prediction_command(
      app, "predict",
      "read input lines on stdin (classification: TEXT or TEXT<TAB>TEXT; masked-lm: text with <mask>), write the "
      "task's outputs on stdout (label<TAB>probability, a score, the filled text, a translation)");
}

Subcommand add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<UseOptions>();
  auto* sub = app.add_subcommand("evaluate", "score a run on a split; prints one JSON object");
  sub->add_option("--run", options->run, "run folder")->required();
  sub->add_option("--split", options->split, "train, valid or test");
  sub->add_option("--beam", options->beam, "beam size (default: the run's eval.beam)");
  sub->add_option("--checkpoint", options->checkpoint, "best, last or average");
  sub->add_option("--device", options->device, "auto, cpu, cuda or cuda:N (default: the run's train.device)");
  sub->add_option("--limit", options->limit, "score only the first N items (0: all)");
  return {sub, [options]() -> int {
            const Split split = parse_split(options->split);
            auto run = open_run(options->run, parse_checkpoint_choice(options->checkpoint), options->device);
            run.task->load(options->run, /*create=*/false);
            const AutocastScope mixed_precision(run.runtime);
            EvaluationOptions evaluation;
            evaluation.limit = options->limit;
            evaluation.beam = options->beam > 0 ? options->beam : run.config.eval.beam;
            auto result = run.task->evaluate(run.model, split, evaluation);
            result["split"] = options->split;
            result["beam"] = evaluation.beam;
            result["checkpoint"] = options->checkpoint;
            std::cout << result.dump() << "\n";
            return 0;
          }};
}

}  // namespace headcount
