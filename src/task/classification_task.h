// Fine-tuning an encoder to classify one sentence or a pair, or to predict a score
// (data.task: classification), as BERT and RoBERTa are fine-tuned on GLUE: the input is
// <s> A </s> or <s> A </s> </s> B </s> (fairseq's pair encoding), cut to data.max_length
// tokens (the longer text loses its last pieces first); the model's head reads the first
// token (model/heads.h). Cross-entropy for classes, squared error for a score.
//
// Files: data.train_file, data.valid_file, data.test_file (TSV, task/labelled_text.h for
// the layouts), or data.glue_dir with data.glue_task: train.tsv and dev.tsv; GLUE's test
// labels are not public, so dev is also the test split, as the BERT papers report GLUE
// (MNLI: dev_matched.tsv is dev, dev_mismatched.tsv test).
//
// Vocabulary: with train.init_from, the pretraining run's sentencepiece model and
// vocabulary (copied into this run folder); otherwise a sentencepiece model trained on the
// training texts. The classes are kept in the run folder (labels.txt, one a line).
//
// Metrics: "loss" (per example), then for classes "accuracy", "mcc", and for two classes
// "f1" of data.positive_label (unset: "1" if a class, else the second class); for a score "pearson", "spearman" and
// "mse"; over "examples". Accuracy, F1 and the correlations are x 100, as GLUE reports
// them. The primary metric is data.metric, else GLUE's for the task.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/tokenizer.h"
#include "data/vocabulary.h"
#include "runtime/runtime.h"
#include "task/labelled_text.h"
#include "task/task.h"

namespace headcount {

class ClassificationTask : public Task {
 public:
  ClassificationTask(RunConfig config, Runtime runtime);
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
  // Lines "A" or "A<TAB>B" -> "label<TAB>probability" (a score for regression).
  std::vector<std::string> predict(Transformer& model, const std::vector<std::string>& lines,
                                   int64_t beam) const override;

  struct Encoded {
    std::vector<int64_t> tokens;  // <s> A </s> (</s> B </s>)
    double label = 0;             // class index, or the score
  };
  const std::vector<Encoded>& examples(Split split) const;
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  struct Files {
    std::string train, valid, test;
  };
  Files files() const;
  void load_vocabulary(const std::string& run_dir, bool create, const std::vector<LabelledText>& train);
  void load_classes(const std::string& run_dir, bool create, const std::vector<LabelledText>& train);
  std::vector<Encoded> encode(const std::vector<LabelledText>& rows, bool labelled) const;
  Batch make_batch(const std::vector<Encoded>& examples, const std::vector<int64_t>& indices) const;
  torch::Tensor forward(Transformer& model, const Batch& batch) const;  // [batch, classes]
  LossSums objective(const torch::Tensor& outputs, const Batch& batch) const;
  int64_t positive_class() const;

  RunConfig config_;
  Runtime runtime_;
  TsvLayout layout_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Vocabulary vocabulary_;
  std::vector<std::string> classes_;  // empty for regression
  std::vector<Encoded> train_, valid_, test_;
  int64_t skipped_ = 0;
};

}  // namespace headcount
