// Grapheme-to-phoneme on the embedded CMUdict (data.task: cmudict): the letters of a word
// in, its ARPABET phonemes out (data/cmudict.h has the split). Words are stored lower-case,
// and so is what a user types into `translate`. A word is right when the output equals any
// of its reference pronunciations.
//
// Metrics: "loss", "nll", and when decoded "wer" and "per" (percent) over "words".
#pragma once

#include "task/seq2seq_task.h"

namespace headcount {

class G2pTask : public Seq2SeqTask {
 public:
  using Seq2SeqTask::Seq2SeqTask;
  MetricInfo primary_metric() const override;

 protected:
  ParallelSplits read_splits() override;
  Tokenizers make_tokenizers(const std::string& run_dir, const ParallelText* raw_train) const override;
  std::string normalize_source(const std::string& raw) const override;
  EvaluationSet evaluation_set(const ParallelText& split) const override;
  Metrics score(const std::vector<std::string>& hypotheses, const EvaluationSet& set) const override;
};

}  // namespace headcount
