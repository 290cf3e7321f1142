// A task: a training objective and its data, as the trainer, `evaluate`, `translate`,
// `compare` and the report see it, and nothing else of it. Each task is one class in this
// folder (g2p_task.h, translation_task.h, ...) built by make_task (task_factory.h): no code
// outside this folder asks which task it is.
//
// A task is made cheaply from the config (no data read), so compare and the report can ask
// for its metrics; load() reads the data. Batches come out on the runtime's device.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batch.h"
#include "model/transformer.h"
#include "task/loss.h"

namespace headcount {

// One metric as the report and checkpoint selection use it.
inline constexpr double kNoLearningBound = std::numeric_limits<double>::quiet_NaN();

struct MetricInfo {
  std::string key;   // its key in a Metrics object: "wer", "bleu", "loss"
  std::string name;  // for tables and figures: "WER", "BLEU", "loss"
  bool lower_is_better = true;
  // A test value at least this bad means the run did not learn at all (kNoLearningBound: no such bound).
  double not_learned_at = kNoLearningBound;
  std::string unit;  // written after a value: "%" for error rates, "" otherwise

  bool better(double a, double than) const { return lower_is_better ? a < than : a > than; }
};

// The scores of one split: {"loss": ..., "nll": ..., "wer": ..., "words": ...}. The keys are
// the task's (each task's header lists them); values are numbers.
using Metrics = nlohmann::json;

enum class Split { Train, Valid, Test };
// "train", "valid" (or "dev"), "test"; throws std::invalid_argument otherwise.
Split parse_split(const std::string& name);
std::string to_string(Split split);

struct EvaluationOptions {
  int64_t limit = 0;           // score only the first N examples (0: all)
  bool generate = true;        // also generate outputs and score them (seq2seq: decode)
  int64_t generate_limit = 0;  // generate for the first N items only (0: all)
  int64_t beam = 1;            // 1: greedy
};

class Task {
 public:
  virtual ~Task() = default;

  // ---- data ----
  // Reads the splits. With create, tokenizer models and vocabularies missing from run_dir
  // are built from the training split and saved there; without it they must be there.
  virtual void load(const std::string& run_dir, bool create) = 0;
  // Only what predict needs (tokenizers, vocabularies), from an existing run folder.
  virtual void load_for_prediction(const std::string& run_dir) = 0;
  // The configured model completed by the data: vocabulary sizes, output heads.
  virtual ModelConfig model_config(const ModelConfig& configured) const = 0;
  // One line for the run log: split sizes and vocabularies.
  virtual std::string describe() const = 0;
  virtual bool has_split(Split split) const = 0;

  // ---- training ----
  // Training example indices grouped into the batches of one epoch (token budget,
  // shuffled from the seed and the epoch); every example once.
  virtual std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const = 0;
  // The tensors of one training batch; epoch lets a task draw new masks every epoch.
  virtual Batch training_batch(const std::vector<int64_t>& indices, int64_t epoch) const = 0;
  // The training objective on one batch: summed, not averaged (LossSums). The one function
  // training, evaluation and the benchmark use.
  virtual LossSums loss(Transformer& model, const Batch& batch) const = 0;

  // ---- evaluation ----
  // What the report compares runs by (on test).
  virtual MetricInfo primary_metric() const = 0;
  // What picks the best checkpoint on dev (the primary metric, or the loss when dev
  // evaluation is configured without generation).
  virtual MetricInfo checkpoint_metric() const = 0;
  virtual Metrics evaluate(Transformer& model, Split split, const EvaluationOptions& options) const = 0;
  // Examples [first, first + count) of a split (count 0: to the end) as the model reads
  // them when it is evaluated, unmasked, in token-budget batches: what `headcount analyze`
  // looks inside.
  virtual std::vector<Batch> input_batches(Split split, int64_t first, int64_t count) const = 0;

  // ---- use ----
  // Input lines as a user writes them -> output lines (`headcount translate`/`predict`).
  virtual std::vector<std::string> predict(Transformer& model, const std::vector<std::string>& lines,
                                           int64_t beam) const = 0;
};

// [begin, end) of examples [first, first + count) of n (count 0: to the end), clamped to n.
std::pair<int64_t, int64_t> example_range(int64_t n, int64_t first, int64_t count);

// The dev loss as a checkpoint metric (tasks use it when nothing else is evaluated on dev).
MetricInfo loss_metric();

}  // namespace headcount
