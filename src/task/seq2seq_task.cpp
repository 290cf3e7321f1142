#include "task/seq2seq_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

LossSums sequence_to_sequence_loss(Transformer& model, const Batch& batch, double label_smoothing) {
  auto memory = model->encoder ? model->encode(batch.source) : torch::Tensor();
  auto logits = model->logits(model->decode(batch.target_input, memory, batch.source));
  return label_smoothed_cross_entropy(logits, batch.target_output, label_smoothing);
}

Seq2SeqTask::Seq2SeqTask(RunConfig config, Runtime runtime) : config_(std::move(config)), runtime_(runtime) {}

static void tokenize_all(ParallelSplits& splits, const Tokenizer& source, const Tokenizer& target) {
  for (auto* split : {&splits.train, &splits.valid, &splits.test}) {
    if (split->size() == 0) continue;
    split->source = source.tokenize_lines(split->source);
    split->target = target.tokenize_lines(split->target);
  }
}

void Seq2SeqTask::load(const std::string& run_dir, bool create) {
  notes_.clear();
  auto raw = read_splits();
  for (auto* split : {&raw.train, &raw.valid, &raw.test})
    for (auto& line : split->source) line = normalize_source(line);
  tokenizers_ = make_tokenizers(run_dir, create ? &raw.train : nullptr);
  tokenize_all(raw, *tokenizers_.source, *tokenizers_.target);
  text_ = std::move(raw);
  load_vocabularies(run_dir, create);
  train_examples_.clear();
  int64_t too_long = 0;
  for (auto& e : encode(text_.train)) {
    if (static_cast<int64_t>(std::max(e.source.size(), e.target.size())) <= config_.data.max_length) {
      train_examples_.push_back(std::move(e));
      continue;
    }
    if (config_.data.bad_lines == "error")
      throw std::runtime_error(fmt::format("training example {} is longer than data.max_length = {} tokens (set "
                                           "data.bad_lines: skip to leave such examples out)",
                                           train_examples_.size() + too_long + 1, config_.data.max_length));
    ++too_long;
  }
  if (text_.train.size() == 0) throw std::runtime_error("the training split is empty: no example to train on");
  if (train_examples_.empty())
    throw std::runtime_error(fmt::format("all {} training examples are longer than data.max_length = {} tokens",
                                         text_.train.size(), config_.data.max_length));
  if (too_long)
    notes_.push_back(fmt::format("{} training examples longer than data.max_length = {} left out", too_long,
                                 config_.data.max_length));
}

void Seq2SeqTask::load_vocabularies(const std::string& run_dir, bool create) {
  const RunFolder folder(run_dir);
  const auto source_path = folder.source_vocabulary(), target_path = folder.target_vocabulary();
  if (fs::exists(source_path) && fs::exists(target_path)) {
    source_vocabulary_ = Vocabulary::load(source_path);
    target_vocabulary_ = Vocabulary::load(target_path);
    return;
  }
  if (!create) throw std::runtime_error(fmt::format("{}: missing vocabulary", source_path));
  if (joint_vocabulary()) {
    source_vocabulary_ = target_vocabulary_ = Vocabulary::build({&text_.train.source, &text_.train.target});
  } else {
    source_vocabulary_ = Vocabulary::build({&text_.train.source});
    target_vocabulary_ = Vocabulary::build({&text_.train.target});
  }
  fs::create_directories(folder.dir());
  source_vocabulary_.save(source_path);
  target_vocabulary_.save(target_path);
}

void Seq2SeqTask::load_for_prediction(const std::string& run_dir) {
  tokenizers_ = make_tokenizers(run_dir, nullptr);
  load_vocabularies(run_dir, /*create=*/false);
}

ModelConfig Seq2SeqTask::model_config(const ModelConfig& configured) const {
  ModelConfig model = configured;
  model.source_vocab_size = source_vocabulary_.size();
  model.target_vocab_size = target_vocabulary_.size();
  return model;
}

std::string Seq2SeqTask::describe() const {
  std::string text = fmt::format("data: {} train / {} valid / {} test examples; vocabularies {} / {}",
                                 train_examples_.size(), text_.valid.size(), text_.test.size(), source_vocabulary_.size(),
                                 target_vocabulary_.size());
  for (const auto& note : notes_) text += "; " + note;
  return text;
}

bool Seq2SeqTask::has_split(Split split) const {
  switch (split) {
    case Split::Train: return text_.train.size() > 0;
    case Split::Valid: return text_.valid.size() > 0;
    case Split::Test: return text_.test.size() > 0;
  }
  return false;
}

std::vector<Example> Seq2SeqTask::encode(const ParallelText& text) const {
  std::vector<Example> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    out[i].source = source_vocabulary_.encode(text.source[i]);
    out[i].target = target_vocabulary_.encode(text.target[i]);
  }
  return out;
}

std::vector<std::string> Seq2SeqTask::prepare_sources(const std::vector<std::string>& raw) const {
  std::vector<std::string> normalized;
  normalized.reserve(raw.size());
  for (const auto& line : raw) normalized.push_back(normalize_source(line));
  return tokenizers_.source->tokenize_lines(normalized);
}

std::vector<std::vector<int64_t>> Seq2SeqTask::epoch_batches(int64_t epoch) const {
  return token_budget_batches(train_examples_, config_.data.max_tokens, config_.train.seed * 1000003 + epoch);
}

Batch Seq2SeqTask::training_batch(const std::vector<int64_t>& indices, int64_t) const {
  return make_batch(train_examples_, indices).to(runtime_.device);
}

LossSums Seq2SeqTask::loss(Transformer& model, const Batch& batch) const {
  return sequence_to_sequence_loss(model, batch, config_.train.label_smoothing);
}

MetricInfo Seq2SeqTask::checkpoint_metric() const {
  return config_.train.valid_decode_limit != 0 ? primary_metric() : loss_metric();
}

Metrics Seq2SeqTask::evaluate_loss(Transformer& model, const std::vector<Example>& examples) const {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  double loss = 0, nll = 0;
  int64_t tokens = 0;
  for (const auto& indices : token_budget_batches(examples, config_.data.max_tokens, -1)) {
    auto sums = this->loss(model, make_batch(examples, indices).to(runtime_.device));
    loss += sums.loss.item<double>();
    nll += sums.nll.item<double>();
    tokens += sums.tokens;
  }
  model->train(was_training);
  return {{"loss", tokens ? loss / tokens : 0.0}, {"nll", tokens ? nll / tokens : 0.0}};
}

DecodeOptions Seq2SeqTask::decode_options(int64_t beam) const {
  return {beam, config_.eval.length_penalty, config_.eval.max_length_a, config_.eval.max_length_b};
}

std::vector<std::string> Seq2SeqTask::translate(Transformer& model, const std::vector<std::string>& sources,
                                                const DecodeOptions& options) const {
  std::vector<Example> examples(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) examples[i].source = source_vocabulary_.encode(sources[i]);
  std::vector<std::string> out(sources.size());
  // Beam search multiplies the rows, so the budget shrinks with the beam.
  const int64_t budget = std::max<int64_t>(1, config_.eval.max_tokens / std::max<int64_t>(1, options.beam));
  for (const auto& indices : token_budget_batches(examples, budget, -1)) {
    auto batch = make_batch(examples, indices).to(runtime_.device);
    auto outputs = decode(model, batch.source, options);
    for (size_t row = 0; row < indices.size(); ++row) out[indices[row]] = target_vocabulary_.decode(outputs[row]);
  }
  return out;
}

EvaluationSet Seq2SeqTask::evaluation_set(const ParallelText& text) const {
  EvaluationSet set;
  set.sources = text.source;
  for (const auto& target : text.target) set.references.push_back({target});
  return set;
}

static const ParallelText& split_text(const ParallelSplits& splits, Split split) {
  return split == Split::Train ? splits.train : split == Split::Valid ? splits.valid : splits.test;
}

Metrics Seq2SeqTask::evaluate(Transformer& model, Split split, const EvaluationOptions& options) const {
  const auto& text = split_text(text_, split);
  auto examples = encode(text);
  if (options.limit > 0 && static_cast<int64_t>(examples.size()) > options.limit) examples.resize(options.limit);
  Metrics metrics = evaluate_loss(model, examples);
  if (!options.generate) return metrics;
  auto set = evaluation_set(text);
  int64_t limit = options.limit;
  if (options.generate_limit > 0 && (limit <= 0 || options.generate_limit < limit)) limit = options.generate_limit;
  if (limit > 0 && static_cast<int64_t>(set.sources.size()) > limit) {
    set.sources.resize(limit);
    set.references.resize(limit);
  }
  metrics.update(score(translate(model, set.sources, decode_options(options.beam)), set));
  return metrics;
}

std::vector<Batch> Seq2SeqTask::input_batches(Split split, int64_t first, int64_t count) const {
  const auto all = encode(split_text(text_, split));
  const auto [begin, end] = example_range(static_cast<int64_t>(all.size()), first, count);
  const std::vector<Example> examples(all.begin() + begin, all.begin() + end);
  std::vector<Batch> batches;
  for (const auto& indices : token_budget_batches(examples, config_.data.max_tokens, -1))
    batches.push_back(make_batch(examples, indices).to(runtime_.device));
  return batches;
}

std::vector<std::string> Seq2SeqTask::predict(Transformer& model, const std::vector<std::string>& lines,
                                              int64_t beam) const {
  const auto outputs = translate(model, prepare_sources(lines), decode_options(beam));
  return tokenizers_.target->detokenize_lines(outputs);
}

}  // namespace headcount
