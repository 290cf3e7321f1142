#include "task/classification_task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/batching.h"
#include "data/parallel_text.h"  // read_lines
#include "util/field_table.h"     // split_list
#include "eval/classification_metrics.h"
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

const std::set<std::string> kMetrics{"accuracy", "f1", "mcc", "pearson", "spearman"};

MetricInfo metric_info(const std::string& key) {
  static const std::map<std::string, std::string> names{
      {"accuracy", "accuracy"}, {"f1", "F1"}, {"mcc", "MCC"}, {"pearson", "Pearson"}, {"spearman", "Spearman"}};
  return {key, names.at(key), /*lower_is_better=*/false, kNoLearningBound, /*unit=*/""};
}

}  // namespace

ClassificationTask::ClassificationTask(RunConfig config, Runtime runtime)
    : config_(std::move(config)), runtime_(runtime), layout_(tsv_layout(config_.data)) {}

std::vector<std::string> ClassificationTask::problems(const RunConfig& c) {
  std::vector<std::string> out;
  const auto& d = c.data;
  if (d.glue_task != "none" && !is_glue_task(d.glue_task))
    out.push_back(fmt::format(
        "data.glue_task '{}' is unknown: expected cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli or none", d.glue_task));
  if (d.glue_dir.empty() && (d.train_file.empty() || d.valid_file.empty()))
    out.push_back("data.task classification needs data.train_file and data.valid_file, or data.glue_dir");
  if (split_list(d.train_file).size() > 1)
    out.push_back(fmt::format("data.train_file names {} files; classification reads one TSV",
                              split_list(d.train_file).size()));
  if (!d.glue_dir.empty() && d.glue_task == "none") out.push_back("data.glue_dir needs data.glue_task (cola, sst2, ...)");
  if (!d.metric.empty() && !kMetrics.count(d.metric))
    out.push_back(fmt::format("data.metric '{}' is unknown: expected accuracy, f1, mcc, pearson or spearman", d.metric));
  const bool regression = d.glue_task == "stsb" || (d.glue_task == "none" && d.regression);
  if (!d.metric.empty() && regression != (d.metric == "pearson" || d.metric == "spearman"))
    out.push_back(fmt::format("data.metric {} does not fit a {} task", d.metric, regression ? "regression" : "classification"));
  if (c.model.architecture != Architecture::Encoder)
    out.push_back(fmt::format("data.task classification fine-tunes an encoder: set model.architecture: encoder (it is {})",
                              to_string(c.model.architecture)));
  if (d.max_length < 5) out.push_back("data.max_length must be at least 5 for classification");
  if (c.train.init_from.empty() && d.vocab_size < 8) out.push_back("data.vocab_size must be at least 8 for sentencepiece");
  return out;
}

ClassificationTask::Files ClassificationTask::files() const {
  const auto& d = config_.data;
  Files f{d.train_file, d.valid_file, d.test_file};
  if (d.glue_dir.empty()) return f;
  const fs::path dir(d.glue_dir);
  const bool mnli = d.glue_task == "mnli";
  if (f.train.empty()) f.train = (dir / "train.tsv").string();
  if (f.valid.empty()) f.valid = (dir / (mnli ? "dev_matched.tsv" : "dev.tsv")).string();
  if (f.test.empty()) f.test = (dir / (mnli ? "dev_mismatched.tsv" : "dev.tsv")).string();
  return f;
}

void ClassificationTask::load(const std::string& run_dir, bool create) {
  const auto f = files();
  auto read = [&](const std::string& path) {
    if (path.empty()) return LabelledFile{};
    auto file = read_labelled_tsv(path, layout_, config_.data);
    skipped_ += file.skipped;
    return file;
  };
  const auto train = read(f.train), valid = read(f.valid), test = read(f.test);
  if (train.rows.empty()) throw std::runtime_error(fmt::format("{}: no training example", f.train));
  load_classes(run_dir, create, train.rows);
  if (classes_.size() == 2) positive_class();  // a positive label that is not a class is refused before training
  load_vocabulary(run_dir, create, train.rows);
  train_ = encode(train.rows, true);
  valid_ = encode(valid.rows, true);
  test_ = encode(test.rows, true);
}

void ClassificationTask::load_classes(const std::string& run_dir, bool create, const std::vector<LabelledText>& train) {
  if (layout_.regression) return;
  const auto path = RunFolder(run_dir).labels();
  if (fs::exists(path)) {
    classes_.clear();
    for (const auto& line : read_lines(path))
      if (!line.empty()) classes_.push_back(line);
    return;
  }
  if (!create) throw std::runtime_error(fmt::format("{}: missing the run's classes", path));
  classes_ = layout_.labels;
  if (classes_.empty()) {  // named columns: the training file's labels, sorted
    std::set<std::string> seen;
    for (const auto& row : train) seen.insert(row.label);
    classes_.assign(seen.begin(), seen.end());
  }
  if (classes_.size() < 2)
    throw std::runtime_error(fmt::format("{}: the training labels have a single class ({})", train.front().where,
                                         classes_.empty() ? "" : classes_.front()));
  std::string text;
  for (const auto& c : classes_) text += c + "\n";
  fs::create_directories(run_dir);
  write_file_atomically(path, text);
}

void ClassificationTask::load_vocabulary(const std::string& run_dir, bool create, const std::vector<LabelledText>& train) {
  const RunFolder folder(run_dir);
  const auto model_path = folder.sentencepiece_model(PieceModel::Joint), vocabulary_path = folder.source_vocabulary();
  const bool missing = !fs::exists(model_path) || !fs::exists(vocabulary_path);
  if (missing && !create) throw std::runtime_error(fmt::format("{}: missing vocabulary", vocabulary_path));
  if (missing && !config_.train.init_from.empty()) {
    // The pretraining run's: its model's embeddings are indexed by them.
    const RunFolder from(config_.train.init_from);
    fs::create_directories(folder.dir());
    for (const auto& [source, destination] : {std::pair{from.sentencepiece_model(PieceModel::Joint), model_path},
                                              std::pair{from.source_vocabulary(), vocabulary_path}}) {
      if (!fs::exists(source))
        throw std::runtime_error(fmt::format("train.init_from {}: no {} (not a masked-LM run folder?)",
                                             from.dir().string(), fs::path(source).filename().string()));
      fs::copy_file(source, destination, fs::copy_options::overwrite_existing);
    }
  } else if (missing) {
    std::vector<std::string> text;
    for (const auto& row : train) {
      text.push_back(row.first);
      if (!row.second.empty()) text.push_back(row.second);
    }
    fs::create_directories(folder.dir());
    train_sentencepiece({&text}, folder.sentencepiece_prefix(PieceModel::Joint), config_.data.vocab_size);
    tokenizer_ = make_tokenizer("sentencepiece", model_path);
    const auto pieces = tokenizer_->tokenize_lines(text);
    Vocabulary::build({&pieces}).save(vocabulary_path);
  }
  tokenizer_ = make_tokenizer("sentencepiece", model_path);
  vocabulary_ = Vocabulary::load(vocabulary_path);
}

void ClassificationTask::load_for_prediction(const std::string& run_dir) {
  load_classes(run_dir, /*create=*/false, {});
  load_vocabulary(run_dir, /*create=*/false, {});
}

std::vector<ClassificationTask::Encoded> ClassificationTask::encode(const std::vector<LabelledText>& rows,
                                                                    bool labelled) const {
  std::vector<std::string> firsts, seconds;
  for (const auto& row : rows) firsts.push_back(row.first), seconds.push_back(row.second);
  const auto first_pieces = tokenizer_->tokenize_lines(firsts);
  const bool pairs = std::any_of(seconds.begin(), seconds.end(), [](const std::string& s) { return !s.empty(); });
  const auto second_pieces = pairs ? tokenizer_->tokenize_lines(seconds) : std::vector<std::string>(rows.size());
  const auto limit = static_cast<size_t>(config_.data.max_length);
  std::vector<Encoded> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    auto a = vocabulary_.encode(first_pieces[i]), b = vocabulary_.encode(second_pieces[i]);
    const size_t budget = b.empty() ? limit - 2 : limit - 4;
    while (a.size() + b.size() > budget) (a.size() >= b.size() ? a : b).pop_back();
    auto& tokens = out[i].tokens;
    tokens.push_back(Vocabulary::kBegin);
    tokens.insert(tokens.end(), a.begin(), a.end());
    tokens.push_back(Vocabulary::kEnd);
    if (!b.empty()) {
      tokens.push_back(Vocabulary::kEnd);
      tokens.insert(tokens.end(), b.begin(), b.end());
      tokens.push_back(Vocabulary::kEnd);
    }
    if (!labelled) continue;
    const auto& label = rows[i].label;
    if (layout_.regression) {
      char* end = nullptr;
      out[i].label = std::strtod(label.c_str(), &end);
      if (label.empty() || *end != '\0')
        throw std::runtime_error(fmt::format("{}: label '{}' is not a number", rows[i].where, label));
    } else {
      const auto it = std::find(classes_.begin(), classes_.end(), label);
      if (it == classes_.end())
        throw std::runtime_error(fmt::format("{}: label '{}' is not one of {}", rows[i].where, label, fmt::join(classes_, ", ")));
      out[i].label = static_cast<double>(it - classes_.begin());
    }
  }
  return out;
}

ModelConfig ClassificationTask::model_config(const ModelConfig& configured) const {
  ModelConfig model = configured;
  model.source_vocab_size = vocabulary_.size();
  model.head = Head::Classification;
  model.classes = layout_.regression ? 1 : static_cast<int64_t>(classes_.size());
  return model;
}

std::string ClassificationTask::describe() const {
  std::string text = fmt::format("data: {} train / {} valid / {} test examples; {}; vocabulary {}", train_.size(),
                                 valid_.size(), test_.size(),
                                 layout_.regression ? std::string("a score") : fmt::format("classes {}", fmt::join(classes_, ", ")),
                                 vocabulary_.size());
  if (skipped_) text += fmt::format("; {} rows left out (empty texts, or short rows of the {} layout)", skipped_, layout_.task);
  return text;
}

const std::vector<ClassificationTask::Encoded>& ClassificationTask::examples(Split split) const {
  return split == Split::Train ? train_ : split == Split::Valid ? valid_ : test_;
}

bool ClassificationTask::has_split(Split split) const { return !examples(split).empty(); }

std::vector<std::vector<int64_t>> ClassificationTask::epoch_batches(int64_t epoch) const {
  std::vector<int64_t> lengths;
  for (const auto& e : train_) lengths.push_back(static_cast<int64_t>(e.tokens.size()));
  return token_budget_batches(lengths, config_.data.max_tokens, config_.train.seed * 1000003 + epoch);
}

Batch ClassificationTask::make_batch(const std::vector<Encoded>& examples, const std::vector<int64_t>& indices) const {
  int64_t longest = 0;
  for (int64_t i : indices) longest = std::max<int64_t>(longest, examples[i].tokens.size());
  const auto rows = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.source = torch::zeros({rows, longest}, torch::kLong);
  auto source = batch.source.accessor<int64_t, 2>();
  std::vector<double> labels;
  for (int64_t row = 0; row < rows; ++row) {
    const auto& e = examples[indices[row]];
    for (size_t j = 0; j < e.tokens.size(); ++j) source[row][j] = e.tokens[j];
    labels.push_back(e.label);
    batch.throughput_tokens += static_cast<int64_t>(e.tokens.size());
  }
  batch.target_output = layout_.regression ? torch::tensor(labels, torch::kFloat) : torch::tensor(labels).to(torch::kLong);
  batch.target_tokens = rows;
  batch.padded_tokens = rows * longest;
  return batch.to(runtime_.device);
}

Batch ClassificationTask::training_batch(const std::vector<int64_t>& indices, int64_t) const {
  return make_batch(train_, indices);
}

torch::Tensor ClassificationTask::forward(Transformer& model, const Batch& batch) const {
  return model->classify(model->encode(batch.source));
}

// Summed over the examples: cross-entropy (label-smoothed over the classes when
// train.label_smoothing > 0), or squared error for a score.
LossSums ClassificationTask::objective(const torch::Tensor& model_outputs, const Batch& batch) const {
  const auto outputs = at_least_float(model_outputs);
  LossSums sums;
  sums.tokens = batch.target_tokens;
  if (layout_.regression) {
    sums.loss = (outputs.squeeze(1) - batch.target_output.to(outputs.scalar_type())).pow(2).sum();
    sums.nll = sums.loss.detach();
    return sums;
  }
  const auto log_probabilities = torch::log_softmax(outputs, -1);
  const auto nll = -log_probabilities.gather(1, batch.target_output.unsqueeze(1)).squeeze(1);
  const double epsilon = config_.train.label_smoothing, others = epsilon / static_cast<double>(outputs.size(1) - 1);
  sums.loss = ((1.0 - epsilon - others) * nll - others * log_probabilities.sum(1)).sum();
  sums.nll = nll.sum().detach();
  return sums;
}

LossSums ClassificationTask::loss(Transformer& model, const Batch& batch) const {
  return objective(forward(model, batch), batch);
}

int64_t ClassificationTask::positive_class() const {
  const auto& wanted = config_.data.positive_label;
  const std::string positive = wanted.empty() ? "1" : wanted;
  const auto it = std::find(classes_.begin(), classes_.end(), positive);
  if (it != classes_.end()) return it - classes_.begin();
  if (!wanted.empty())
    throw std::runtime_error(fmt::format("data.positive_label '{}' is not one of the classes {}", wanted,
                                         fmt::join(classes_, ", ")));
  return 1;  // the second class, as scikit-learn's pos_label=1 picks for {0, 1}
}

MetricInfo ClassificationTask::primary_metric() const {
  return metric_info(config_.data.metric.empty() ? layout_.metric : config_.data.metric);
}

Metrics ClassificationTask::evaluate(Transformer& model, Split split, const EvaluationOptions& options) const {
  const auto& all = examples(split);
  const int64_t n = options.limit > 0 ? std::min<int64_t>(options.limit, all.size()) : static_cast<int64_t>(all.size());
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < n; ++i) lengths.push_back(static_cast<int64_t>(all[i].tokens.size()));
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  double loss = 0;
  std::vector<int64_t> predicted, truth;
  std::vector<double> scores, targets;
  for (const auto& indices : token_budget_batches(lengths, config_.data.max_tokens, -1)) {
    const auto batch = make_batch(all, indices);
    const auto outputs = forward(model, batch);
    loss += objective(outputs, batch).loss.item<double>();
    const auto cpu = outputs.to(torch::kCPU, torch::kDouble);
    for (size_t row = 0; row < indices.size(); ++row) {
      const auto& e = all[indices[row]];
      if (layout_.regression) {
        scores.push_back(cpu[row][0].item<double>()), targets.push_back(e.label);
      } else {
        predicted.push_back(cpu[row].argmax().item<int64_t>()), truth.push_back(static_cast<int64_t>(e.label));
      }
    }
  }
  model->train(was_training);
  Metrics metrics = {{"loss", n ? loss / n : 0.0}, {"examples", n}};
  if (layout_.regression) {
    double squared = 0;
    for (size_t i = 0; i < scores.size(); ++i) squared += (scores[i] - targets[i]) * (scores[i] - targets[i]);
    metrics["pearson"] = 100 * pearson_correlation(scores, targets);
    metrics["spearman"] = 100 * spearman_correlation(scores, targets);
    metrics["mse"] = n ? squared / n : 0.0;
    return metrics;
  }
  metrics["accuracy"] = 100 * accuracy(predicted, truth);
  metrics["mcc"] = 100 * matthews_correlation(predicted, truth, static_cast<int64_t>(classes_.size()));
  if (classes_.size() == 2) metrics["f1"] = 100 * f1_score(predicted, truth, positive_class());
  return metrics;
}

std::vector<Batch> ClassificationTask::input_batches(Split split, int64_t first, int64_t count) const {
  const auto& everything = examples(split);
  const auto [begin, end] = example_range(static_cast<int64_t>(everything.size()), first, count);
  const std::vector<Encoded> all(everything.begin() + begin, everything.begin() + end);
  std::vector<int64_t> lengths;
  for (const auto& e : all) lengths.push_back(static_cast<int64_t>(e.tokens.size()));
  std::vector<Batch> batches;
  for (const auto& indices : token_budget_batches(lengths, config_.data.max_tokens, -1))
    batches.push_back(make_batch(all, indices));
  return batches;
}

std::vector<std::string> ClassificationTask::predict(Transformer& model, const std::vector<std::string>& lines,
                                                     int64_t) const {
  std::vector<LabelledText> rows;
  for (const auto& line : lines) {
    const auto tab = line.find('\t');
    rows.push_back({line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1), "", ""});
  }
  const auto encoded = encode(rows, /*labelled=*/false);
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<std::string> out(lines.size());
  std::vector<int64_t> lengths;
  for (const auto& e : encoded) lengths.push_back(static_cast<int64_t>(e.tokens.size()));
  for (const auto& indices : token_budget_batches(lengths, config_.data.max_tokens, -1)) {
    const auto outputs = forward(model, make_batch(encoded, indices)).to(torch::kCPU, torch::kDouble);
    for (size_t row = 0; row < indices.size(); ++row) {
      if (layout_.regression) {
        out[indices[row]] = fmt::format("{:.4f}", outputs[row][0].item<double>());
        continue;
      }
      const auto probabilities = torch::softmax(outputs[row], -1);
      const int64_t best = probabilities.argmax().item<int64_t>();
      out[indices[row]] = fmt::format("{}\t{:.4f}", classes_[best], probabilities[best].item<double>());
    }
  }
  return out;
}

}  // namespace headcount
