// Translation on a user's parallel corpus (data.task: parallel), named as fairseq names it:
// data.train_prefix, data.valid_prefix and data.test_prefix read PREFIX.SRC and
// PREFIX.TGT. data.tokenizer: char, space (already tokenized) or sentencepiece (trained on
// the training side, model kept in the run folder); data.joint_vocabulary for one
// vocabulary and one sentencepiece model.
//
// Metrics: "loss", "nll", and when decoded "bleu" and "chrf" (sacreBLEU 2's, on detokenized
// text) over "sentences".
#pragma once

#include "task/seq2seq_task.h"

namespace headcount {

class TranslationTask : public Seq2SeqTask {
 public:
  using Seq2SeqTask::Seq2SeqTask;
  MetricInfo primary_metric() const override;
  // The config's data keys this task needs, one message each.
  static std::vector<std::string> problems(const DataConfig& data);

 protected:
  ParallelSplits read_splits() override;
  Tokenizers make_tokenizers(const std::string& run_dir, const ParallelText* raw_train) const override;
  bool joint_vocabulary() const override { return config_.data.joint_vocabulary; }
  Metrics score(const std::vector<std::string>& hypotheses, const EvaluationSet& set) const override;
};

}  // namespace headcount
