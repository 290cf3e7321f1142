#include "task/g2p_task.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "data/cmudict.h"
#include "eval/metrics.h"

namespace headcount {

MetricInfo G2pTask::primary_metric() const {
  // 90% of words wrong or more: the model has not learned to spell out a pronunciation.
  return {"wer", "WER", /*lower_is_better=*/true, /*not_learned_at=*/90.0, "%"};
}

ParallelSplits G2pTask::read_splits() { return load_cmudict(config_.data.cmudict_path, {config_.data.keep_stress}); }

Seq2SeqTask::Tokenizers G2pTask::make_tokenizers(const std::string&, const ParallelText*) const {
  return {make_tokenizer("char"), make_tokenizer("space")};
}

std::string G2pTask::normalize_source(const std::string& raw) const {
  std::string out = raw;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

EvaluationSet G2pTask::evaluation_set(const ParallelText& text) const {
  // One item per word, with every pronunciation it has.
  EvaluationSet set;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < text.size(); ++i) {
    auto [it, inserted] = seen.emplace(text.source[i], set.sources.size());
    if (!inserted) {
      set.references[it->second].push_back(text.target[i]);
      continue;
    }
    set.sources.push_back(text.source[i]);
    set.references.push_back({text.target[i]});
  }
  return set;
}

Metrics G2pTask::score(const std::vector<std::string>& hypotheses, const EvaluationSet& set) const {
  auto scores = score_pronunciations(hypotheses, set.references);
  return {{"wer", scores.word_error_rate}, {"per", scores.phoneme_error_rate}, {"words", scores.words}};
}

}  // namespace headcount
