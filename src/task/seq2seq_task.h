// What every sequence-to-sequence task shares: text split three ways, a tokenizer and a
// vocabulary per side (built from the training split on a run's first start and kept in
// the run folder, so indices never change under a model), token-budget batches,
// label-smoothed cross-entropy on the decoder's outputs, and evaluation by decoding (greedy
// or beam) and scoring the outputs. The subclasses (g2p_task.h, translation_task.h) say how
// their text is read and tokenized and how outputs are scored.
//
// Batches: source, target_input, target_output (data/batching.h's make_batch).
// Metrics: "loss" and "nll" (per target token, teacher-forced), then the subclass's scores.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/batching.h"
#include "data/parallel_text.h"
#include "data/tokenizer.h"
#include "data/vocabulary.h"
#include "eval/decode.h"
#include "runtime/runtime.h"
#include "task/task.h"

namespace headcount {

// The training objective of every seq2seq task: encode, decode teacher-forced, project to
// the vocabulary, label-smoothed cross-entropy. Also what `headcount bench` times.
LossSums sequence_to_sequence_loss(Transformer& model, const Batch& batch, double label_smoothing);

// Unique sources with every reference they have (a CMUdict word has several
// pronunciations; a corpus line has one).
struct EvaluationSet {
  std::vector<std::string> sources;                  // tokenized
  std::vector<std::vector<std::string>> references;  // tokenized
};

class Seq2SeqTask : public Task {
 public:
  Seq2SeqTask(RunConfig config, Runtime runtime);

  void load(const std::string& run_dir, bool create) override;
  void load_for_prediction(const std::string& run_dir) override;
  ModelConfig model_config(const ModelConfig& configured) const override;
  std::string describe() const override;
  bool has_split(Split split) const override;

  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const override;
  Batch training_batch(const std::vector<int64_t>& indices, int64_t epoch) const override;
  LossSums loss(Transformer& model, const Batch& batch) const override;

  MetricInfo checkpoint_metric() const override;
  Metrics evaluate(Transformer& model, Split split, const EvaluationOptions& options) const override;
  std::vector<Batch> input_batches(Split split, int64_t first, int64_t count) const override;
  std::vector<std::string> predict(Transformer& model, const std::vector<std::string>& lines,
                                   int64_t beam) const override;

  // The tokenized text (space-separated tokens) and the vocabularies, once loaded.
  const ParallelSplits& text() const { return text_; }
  const Vocabulary& source_vocabulary() const { return source_vocabulary_; }
  const Vocabulary& target_vocabulary() const { return target_vocabulary_; }
  std::vector<Example> encode(const ParallelText& text) const;
  // Raw user input -> tokenized sources, exactly as the training sources were made.
  std::vector<std::string> prepare_sources(const std::vector<std::string>& raw) const;

 protected:
  struct Tokenizers {
    std::unique_ptr<Tokenizer> source, target;
  };
  // The three splits as the task reads them, before tokenization.
  virtual ParallelSplits read_splits() = 0;
  // The tokenizers. raw_train: the training split, for tokenizers that are trained (into
  // run_dir) when their model is missing; null when they must exist already.
  virtual Tokenizers make_tokenizers(const std::string& run_dir, const ParallelText* raw_train) const = 0;
  // A raw source line as the task stores its sources (CMUdict: lower case).
  virtual std::string normalize_source(const std::string& raw) const { return raw; }
  // One vocabulary for both sides.
  virtual bool joint_vocabulary() const { return false; }
  // Evaluation items of a split (default: one reference per line).
  virtual EvaluationSet evaluation_set(const ParallelText& split) const;
  // Scores of tokenized hypotheses against the items' references.
  virtual Metrics score(const std::vector<std::string>& hypotheses, const EvaluationSet& set) const = 0;

  const Tokenizer& target_tokenizer() const { return *tokenizers_.target; }
  // What reading the data left out, for the run log (describe()).
  std::vector<std::string> notes_;

  RunConfig config_;
  Runtime runtime_;

 private:
  void load_vocabularies(const std::string& run_dir, bool create);
  // Decodes tokenized sources in length-sorted batches; tokenized outputs in input order.
  std::vector<std::string> translate(Transformer& model, const std::vector<std::string>& sources,
                                     const DecodeOptions& options) const;
  Metrics evaluate_loss(Transformer& model, const std::vector<Example>& examples) const;
  DecodeOptions decode_options(int64_t beam) const;

  ParallelSplits text_;
  Tokenizers tokenizers_;
  Vocabulary source_vocabulary_, target_vocabulary_;
  std::vector<Example> train_examples_;  // within data.max_length
};

}  // namespace headcount
