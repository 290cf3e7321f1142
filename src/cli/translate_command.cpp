// headcount translate / evaluate: use a trained run.
#include <iostream>

#include "cli/commands.h"
#include "cli/run_access.h"
#include "data/task_data.h"
#include "eval/evaluate.h"

namespace headcount {

namespace {
struct UseOptions {
  std::string run, checkpoint = "best", split = "test";
  int64_t beam = 0;  // 0: the run's eval.beam
  int64_t limit = 0;
};

DecodeOptions decoding(const RunConfig& config, int64_t beam) {
  return {beam > 0 ? beam : config.eval.beam, config.eval.length_penalty, config.eval.max_length_a,
          config.eval.max_length_b};
}
}  // namespace

Subcommand add_translate_command(CLI::App& app) {
  auto options = std::make_shared<UseOptions>();
  auto* sub = app.add_subcommand("translate", "read source lines on stdin, write outputs on stdout");
  sub->add_option("--run", options->run, "run folder")->required();
  sub->add_option("--beam", options->beam, "beam size (default: the run's eval.beam; 1 is greedy)");
  sub->add_option("--checkpoint", options->checkpoint, "best, last or average");
  return {sub, [options]() -> int {
            auto run = open_run(options->run, options->checkpoint);
            auto data = load_task_vocabularies(run.config.data, options->run);
            std::vector<std::string> lines;
            for (std::string line; std::getline(std::cin, line);) lines.push_back(line);
            auto outputs = translate_sources(run.model, data, data.prepare_sources(lines),
                                             decoding(run.config, options->beam), run.config.eval.max_tokens);
            for (const auto& o : data.target_tokenizer->detokenize_lines(outputs)) std::cout << o << "\n";
            return 0;
          }};
}

Subcommand add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<UseOptions>();
  auto* sub = app.add_subcommand("evaluate", "score a run on a split; prints one JSON object");
  sub->add_option("--run", options->run, "run folder")->required();
  sub->add_option("--split", options->split, "train, valid or test");
  sub->add_option("--beam", options->beam, "beam size (default: the run's eval.beam)");
  sub->add_option("--checkpoint", options->checkpoint, "best, last or average");
  sub->add_option("--limit", options->limit, "score only the first N items (0: all)");
  return {sub, [options]() -> int {
            auto run = open_run(options->run, options->checkpoint);
            auto data = load_task_data(run.config.data, options->run, /*create=*/false);
            const auto& split = data.text.split(options->split);
            auto examples = data.encode(split);
            if (options->limit > 0 && static_cast<int64_t>(examples.size()) > options->limit)
              examples.resize(options->limit);
            auto result = evaluate_loss(run.model, examples, run.config.data.max_tokens, run.config.train.label_smoothing);
            const auto options_used = decoding(run.config, options->beam);
            result.update(evaluate_decoding(run.model, data, split, options_used, run.config.eval.max_tokens, options->limit));
            result["split"] = options->split;
            result["beam"] = options_used.beam;
            result["checkpoint"] = options->checkpoint;
            std::cout << result.dump() << "\n";
            return 0;
          }};
}

}  // namespace headcount
