// Masked-LM pretraining (data.task: masked-lm), as BERT and RoBERTa do it without next-
// sentence prediction, on an encoder-only model whose output projection is tied to its
// embeddings (model.head masked-lm).
//
// Corpus: data.train_file (one file or a list, read as one corpus: each file ends a
// document), data.valid_file and data.test_file, plain UTF-8 text (.gz too), one sentence
// or paragraph a line and a blank line between documents, as fairseq reads raw text. A
// unigram sentencepiece model of data.vocab_size pieces is trained on the training text
// on a run's first start and kept in the run folder (sentencepiece.model, with the
// vocabulary source.vocab, which ends with <mask>).
//
// Packing: each document's pieces, line after line, are cut into consecutive blocks of
// data.max_length - 2 pieces, each read as <s> block </s>; the last block of a document may
// be shorter, and no block crosses a document boundary, so every token of the corpus is in
// exactly one sequence.
//
// Masking: task/masking.h, anew every epoch from (train.seed, epoch, sequence); dev and
// test use one fixed draw, so their scores compare across evaluations and runs.
//
// Batches: source (masked sequences, padded), target_positions (flat indices of the
// predicted tokens), target_output (their original tokens); the LM head runs on those rows
// only. Metrics: "loss" (label-smoothed if train.label_smoothing > 0), "nll" (nats per
// predicted token), "perplexity" (exp nll), "accuracy" (percent of predicted tokens right)
// over "tokens".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/tokenizer.h"
#include "data/vocabulary.h"
#include "runtime/runtime.h"
#include "task/masking.h"
#include "task/task.h"

namespace headcount {

// The packing rule above: documents (piece indices) -> sequences <s> block </s> of at most
// max_length tokens.
std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int64_t>>& documents,
                                                 int64_t max_length);

class MaskedLmTask : public Task {
 public:
  MaskedLmTask(RunConfig config, Runtime runtime);
  static std::vector<std::string> problems(const RunConfig& config);

  void load(const std::string& run_dir, bool create) override;
  void load_for_prediction(const std::string& run_dir) override;
  ModelConfig model_config(const ModelConfig& configured) const override;
  std::string describe() const override;
  bool has_split(Split split) const override;

  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const override;
  Batch training_batch(const std::vector<int64_t>& indices, int64_t epoch) const override;
  LossSums loss(Transformer& model, const Batch& batch) const override;

  MetricInfo primary_metric() const override;
  MetricInfo checkpoint_metric() const override { return primary_metric(); }
  Metrics evaluate(Transformer& model, Split split, const EvaluationOptions& options) const override;
  std::vector<Batch> input_batches(Split split, int64_t first, int64_t count) const override;
  // Each line with every "<mask>" in it replaced by the model's most likely piece.
  std::vector<std::string> predict(Transformer& model, const std::vector<std::string>& lines,
                                   int64_t beam) const override;

  // Every sequence of a split, <s> and </s> included.
  const std::vector<std::vector<int64_t>>& sequences(Split split) const;
  const Vocabulary& vocabulary() const { return vocabulary_; }

 private:
  void load_vocabulary(const std::string& run_dir, bool create, const std::vector<std::string>& train_pieces);
  Batch make_batch(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& indices,
                   int64_t epoch) const;
  torch::Tensor forward(Transformer& model, const Batch& batch) const;  // [predicted tokens, vocabulary]

  RunConfig config_;
  Runtime runtime_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Vocabulary vocabulary_;
  MaskingOptions masking_;
  std::vector<bool> starts_word_;  // per vocabulary entry
  std::vector<std::vector<int64_t>> train_, valid_, test_;
};

}  // namespace headcount
