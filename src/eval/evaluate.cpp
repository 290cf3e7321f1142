#include "eval/evaluate.h"

#include <algorithm>
#include <numeric>

#include "data/batching.h"
#include "eval/metrics.h"
#include "train/loss.h"

namespace headcount {

nlohmann::json evaluate_loss(Transformer& model, const std::vector<Example>& examples, int64_t max_tokens,
                             double label_smoothing) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  double loss = 0, nll = 0;
  int64_t tokens = 0;
  for (const auto& indices : token_budget_batches(examples, max_tokens, -1)) {
    auto batch = make_batch(examples, indices);
    auto memory = model->encoder ? model->encode(batch.source) : torch::Tensor();
    auto logits = model->logits(model->decode(batch.target_input, memory, batch.source));
    auto sums = label_smoothed_cross_entropy(logits, batch.target_output, label_smoothing);
    loss += sums.loss.item<double>();
    nll += sums.nll.item<double>();
    tokens += sums.tokens;
  }
  model->train(was_training);
  return {{"loss", tokens ? loss / tokens : 0.0}, {"nll", tokens ? nll / tokens : 0.0}};
}

std::vector<std::string> translate_sources(Transformer& model, const TaskData& data,
                                           const std::vector<std::string>& sources, const DecodeOptions& options,
                                           int64_t max_tokens) {
  std::vector<Example> examples(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) examples[i].source = data.source_vocabulary.encode(sources[i]);
  std::vector<std::string> out(sources.size());
  // Beam search multiplies the rows, so the budget shrinks with the beam.
  const int64_t budget = std::max<int64_t>(1, max_tokens / std::max<int64_t>(1, options.beam));
  for (const auto& indices : token_budget_batches(examples, budget, -1)) {
    auto batch = make_batch(examples, indices);
    auto outputs = decode(model, batch.source, options);
    for (size_t row = 0; row < indices.size(); ++row) out[indices[row]] = data.target_vocabulary.decode(outputs[row]);
  }
  return out;
}

nlohmann::json evaluate_decoding(Transformer& model, const TaskData& data, const ParallelText& split,
                                 const DecodeOptions& options, int64_t max_tokens, int64_t limit) {
  auto set = data.evaluation_set(split);
  if (limit > 0 && static_cast<int64_t>(set.sources.size()) > limit) {
    set.sources.resize(limit);
    set.references.resize(limit);
  }
  const auto hypotheses = translate_sources(model, data, set.sources, options, max_tokens);
  if (data.group_references) {
    auto scores = score_pronunciations(hypotheses, set.references);
    return {{"wer", scores.word_error_rate}, {"per", scores.phoneme_error_rate}, {"words", scores.words}};
  }
  const auto detokenized = data.target_tokenizer->detokenize_lines(hypotheses);
  // One detokenizer pass over every reference, then regrouped.
  std::vector<std::string> flat;
  for (const auto& group : set.references) flat.insert(flat.end(), group.begin(), group.end());
  const auto detokenized_flat = data.target_tokenizer->detokenize_lines(flat);
  std::vector<std::vector<std::string>> references;
  size_t next = 0;
  for (const auto& group : set.references) {
    references.emplace_back(detokenized_flat.begin() + next, detokenized_flat.begin() + next + group.size());
    next += group.size();
  }
  return {{"bleu", corpus_bleu(detokenized, references)},
          {"chrf", corpus_chrf(detokenized, references)},
          {"sentences", static_cast<int64_t>(detokenized.size())}};
}

std::string primary_metric(const TaskData& data) { return data.group_references ? "wer" : "bleu"; }

bool lower_is_better(const std::string& metric) { return metric == "wer" || metric == "per" || metric == "loss"; }

}  // namespace headcount
