#include "task/masked_lm_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "data/batching.h"
#include "data/parallel_text.h"  // read_lines
#include "util/field_table.h"     // split_list
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

const std::string kMaskSymbol = "<mask>";
const std::string kWordStart = "\xE2\x96\x81";  // U+2581: sentencepiece's mark of a piece that begins a word
// Dev and test masks are one fixed draw, the same for every evaluation and every run.
constexpr int64_t kEvaluationSeed = 0, kEvaluationEpoch = -1;

bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); });
}

}  // namespace

MaskedLmTask::MaskedLmTask(RunConfig config, Runtime runtime) : config_(std::move(config)), runtime_(runtime) {}

std::vector<std::string> MaskedLmTask::problems(const RunConfig& c) {
  std::vector<std::string> out;
  const auto& d = c.data;
  if (d.train_file.empty() || d.valid_file.empty())
    out.push_back("data.task masked-lm needs data.train_file and data.valid_file");
  if (c.model.architecture != Architecture::Encoder)
    out.push_back(fmt::format("data.task masked-lm trains an encoder: set model.architecture: encoder (it is {})",
                              to_string(c.model.architecture)));
  if (!(d.mask_probability > 0 && d.mask_probability < 1)) out.push_back("data.mask_probability must be in (0, 1)");
  if (!(d.random_token_probability >= 0 && d.leave_unmasked_probability >= 0 &&
        d.random_token_probability + d.leave_unmasked_probability <= 1))
    out.push_back("data.random_token_probability and data.leave_unmasked_probability must be shares that add up to at most 1");
  if (d.max_length < 3) out.push_back("data.max_length must be at least 3 for masked-lm (<s>, a token, </s>)");
  if (d.vocab_size < 8) out.push_back("data.vocab_size must be at least 8 for sentencepiece");
  return out;
}

// A file's lines as sentencepiece pieces (one process for all), blank lines (the breaks
// between documents) as nullopt.
static std::vector<std::optional<std::string>> tokenize(const std::vector<std::string>& lines, const Tokenizer& tokenizer) {
  std::vector<std::string> text;
  for (const auto& line : lines)
    if (!blank(line)) text.push_back(line);
  const auto pieces = tokenizer.tokenize_lines(text);
  std::vector<std::optional<std::string>> out;
  size_t next = 0;
  for (const auto& line : lines) out.push_back(blank(line) ? std::nullopt : std::optional<std::string>(pieces[next++]));
  return out;
}

static std::vector<std::vector<int64_t>> documents_of(const std::vector<std::optional<std::string>>& lines,
                                                      const Vocabulary& vocabulary) {
  std::vector<std::vector<int64_t>> documents(1);
  for (const auto& line : lines) {
    if (!line) {
      if (!documents.back().empty()) documents.emplace_back();
      continue;
    }
    const auto ids = vocabulary.encode(*line);
    documents.back().insert(documents.back().end(), ids.begin(), ids.end());
  }
  if (documents.back().empty()) documents.pop_back();
  return documents;
}

void MaskedLmTask::load(const std::string& run_dir, bool create) {
  const RunFolder folder(run_dir);
  const auto model_path = folder.sentencepiece_model(PieceModel::Joint);
  // Several training files are one corpus, each file ending its last document.
  std::vector<std::string> train_lines;
  for (const auto& file : split_list(config_.data.train_file)) {
    auto lines = read_lines(file);
    train_lines.insert(train_lines.end(), std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
    train_lines.emplace_back();
  }
  if (!fs::exists(model_path)) {
    if (!create) throw std::runtime_error(fmt::format("{}: missing sentencepiece model", model_path));
    std::vector<std::string> text;
    for (const auto& line : train_lines)
      if (!blank(line)) text.push_back(line);
    if (text.empty()) throw std::runtime_error(fmt::format("{}: no text to train on", config_.data.train_file));
    fs::create_directories(folder.dir());
    train_sentencepiece({&text}, folder.sentencepiece_prefix(PieceModel::Joint), config_.data.vocab_size);
  }
  tokenizer_ = make_tokenizer("sentencepiece", model_path);
  const auto train_pieces = tokenize(train_lines, *tokenizer_);
  std::vector<std::string> pieces;
  for (const auto& line : train_pieces)
    if (line) pieces.push_back(*line);
  load_vocabulary(run_dir, create, pieces);
  train_ = pack_documents(documents_of(train_pieces, vocabulary_), config_.data.max_length);
  auto split = [&](const std::string& path) {
    if (path.empty()) return std::vector<std::vector<int64_t>>{};
    return pack_documents(documents_of(tokenize(read_lines(path), *tokenizer_), vocabulary_), config_.data.max_length);
  };
  valid_ = split(config_.data.valid_file);
  test_ = split(config_.data.test_file);
  if (train_.empty()) throw std::runtime_error(fmt::format("{}: no training sequence", config_.data.train_file));
}

void MaskedLmTask::load_vocabulary(const std::string& run_dir, bool create, const std::vector<std::string>& train_pieces) {
  const auto path = RunFolder(run_dir).source_vocabulary();
  if (fs::exists(path)) {
    vocabulary_ = Vocabulary::load(path);
  } else {
    if (!create) throw std::runtime_error(fmt::format("{}: missing vocabulary", path));
    vocabulary_ = Vocabulary::build({&train_pieces});
    vocabulary_.add_symbol(kMaskSymbol);
    vocabulary_.save(path);
  }
  if (!vocabulary_.contains(kMaskSymbol))
    throw std::runtime_error(fmt::format("{}: not a masked-LM vocabulary (no {})", path, kMaskSymbol));
  masking_ = {config_.data.mask_probability,     config_.data.random_token_probability,
              config_.data.leave_unmasked_probability, config_.data.whole_word_masking,
              vocabulary_.index(kMaskSymbol),    Vocabulary::kUnknown + 1,
              vocabulary_.size()};
  starts_word_.assign(vocabulary_.size(), false);
  for (int64_t i = 0; i < vocabulary_.size(); ++i) starts_word_[i] = vocabulary_.token(i).rfind(kWordStart, 0) == 0;
}

void MaskedLmTask::load_for_prediction(const std::string& run_dir) {
  tokenizer_ = make_tokenizer("sentencepiece", RunFolder(run_dir).sentencepiece_model(PieceModel::Joint));
  load_vocabulary(run_dir, /*create=*/false, {});
}

std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int64_t>>& documents,
                                                 int64_t max_length) {
  const auto block = static_cast<size_t>(max_length - 2);
  std::vector<std::vector<int64_t>> sequences;
  for (const auto& document : documents)
    for (size_t start = 0; start < document.size(); start += block) {
      std::vector<int64_t> sequence{Vocabulary::kBegin};
      const size_t end = std::min(document.size(), start + block);
      sequence.insert(sequence.end(), document.begin() + start, document.begin() + end);
      sequence.push_back(Vocabulary::kEnd);
      sequences.push_back(std::move(sequence));
    }
  return sequences;
}

ModelConfig MaskedLmTask::model_config(const ModelConfig& configured) const {
  ModelConfig model = configured;
  model.source_vocab_size = vocabulary_.size();
  model.head = Head::MaskedLm;
  model.share_decoder_input_output_embed = true;  // the output projection is the embedding table
  return model;
}

std::string MaskedLmTask::describe() const {
  int64_t tokens = 0;
  for (const auto& s : train_) tokens += static_cast<int64_t>(s.size()) - 2;
  return fmt::format("data: {} train / {} valid / {} test sequences of up to {} tokens ({} training tokens); "
                     "vocabulary {}",
                     train_.size(), valid_.size(), test_.size(), config_.data.max_length, tokens, vocabulary_.size());
}

const std::vector<std::vector<int64_t>>& MaskedLmTask::sequences(Split split) const {
  return split == Split::Train ? train_ : split == Split::Valid ? valid_ : test_;
}

bool MaskedLmTask::has_split(Split split) const { return !sequences(split).empty(); }

std::vector<std::vector<int64_t>> MaskedLmTask::epoch_batches(int64_t epoch) const {
  std::vector<int64_t> lengths;
  for (const auto& s : train_) lengths.push_back(static_cast<int64_t>(s.size()));
  return token_budget_batches(lengths, config_.data.max_tokens, config_.train.seed * 1000003 + epoch);
}

Batch MaskedLmTask::make_batch(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& indices,
                               int64_t epoch) const {
  const bool evaluation = epoch == kEvaluationEpoch;
  int64_t longest = 0;
  for (int64_t i : indices) longest = std::max<int64_t>(longest, sequences[i].size());
  const auto rows = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.source = torch::zeros({rows, longest}, torch::kLong);
  auto source = batch.source.accessor<int64_t, 2>();
  std::vector<int64_t> positions, targets;
  for (int64_t row = 0; row < rows; ++row) {
    const auto& tokens = sequences[indices[row]];
    std::vector<bool> starts(tokens.size());
    for (size_t j = 0; j < tokens.size(); ++j) starts[j] = starts_word_[tokens[j]];
    const auto seed = masking_seed(evaluation ? kEvaluationSeed : config_.train.seed, epoch, indices[row]);
    const auto masked = mask_sequence(tokens, starts, masking_, seed);
    for (size_t j = 0; j < tokens.size(); ++j) source[row][j] = masked.tokens[j];
    for (size_t k = 0; k < masked.positions.size(); ++k) {
      positions.push_back(row * longest + masked.positions[k]);
      targets.push_back(masked.targets[k]);
    }
    batch.throughput_tokens += static_cast<int64_t>(tokens.size());
  }
  batch.target_positions = torch::tensor(positions, torch::kLong);
  batch.target_output = torch::tensor(targets, torch::kLong);
  batch.target_tokens = static_cast<int64_t>(targets.size());
  batch.padded_tokens = rows * longest;
  return batch.to(runtime_.device);
}

Batch MaskedLmTask::training_batch(const std::vector<int64_t>& indices, int64_t epoch) const {
  return make_batch(train_, indices, epoch);
}

torch::Tensor MaskedLmTask::forward(Transformer& model, const Batch& batch) const {
  return model->masked_lm_logits(model->encode(batch.source), batch.target_positions);
}

LossSums MaskedLmTask::loss(Transformer& model, const Batch& batch) const {
  return label_smoothed_cross_entropy(forward(model, batch), batch.target_output, config_.train.label_smoothing);
}

MetricInfo MaskedLmTask::primary_metric() const { return {"perplexity", "perplexity", /*lower_is_better=*/true, kNoLearningBound, /*unit=*/""}; }

Metrics MaskedLmTask::evaluate(Transformer& model, Split split, const EvaluationOptions& options) const {
  const auto& all = sequences(split);
  const int64_t n = options.limit > 0 ? std::min<int64_t>(options.limit, all.size()) : static_cast<int64_t>(all.size());
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < n; ++i) lengths.push_back(static_cast<int64_t>(all[i].size()));
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  double loss = 0, nll = 0;
  int64_t tokens = 0, correct = 0;
  for (const auto& indices : token_budget_batches(lengths, config_.data.max_tokens, -1)) {
    const auto batch = make_batch(all, indices, kEvaluationEpoch);
    const auto logits = forward(model, batch);
    const auto sums = label_smoothed_cross_entropy(logits, batch.target_output, config_.train.label_smoothing);
    loss += sums.loss.item<double>(), nll += sums.nll.item<double>(), tokens += sums.tokens;
    correct += logits.argmax(-1).eq(batch.target_output).sum().item<int64_t>();
  }
  model->train(was_training);
  const double mean_nll = tokens ? nll / tokens : 0.0;
  return {{"loss", tokens ? loss / tokens : 0.0},
          {"nll", mean_nll},
          {"perplexity", std::exp(mean_nll)},
          {"accuracy", tokens ? 100.0 * static_cast<double>(correct) / tokens : 0.0},
          {"tokens", tokens}};
}

std::vector<Batch> MaskedLmTask::input_batches(Split split, int64_t first, int64_t count) const {
  const auto& everything = sequences(split);
  const auto [begin, end] = example_range(static_cast<int64_t>(everything.size()), first, count);
  const std::vector<std::vector<int64_t>> all(everything.begin() + begin, everything.begin() + end);
  std::vector<int64_t> lengths;
  for (const auto& s : all) lengths.push_back(static_cast<int64_t>(s.size()));
  std::vector<Batch> batches;
  for (const auto& indices : token_budget_batches(lengths, config_.data.max_tokens, -1)) {
    int64_t longest = 0;
    for (int64_t i : indices) longest = std::max<int64_t>(longest, all[i].size());
    Batch batch;
    batch.source = torch::zeros({static_cast<int64_t>(indices.size()), longest}, torch::kLong);
    for (size_t row = 0; row < indices.size(); ++row)
      batch.source[row].narrow(0, 0, all[indices[row]].size()).copy_(torch::tensor(all[indices[row]], torch::kLong));
    batches.push_back(batch.to(runtime_.device));
  }
  return batches;
}

std::vector<std::string> MaskedLmTask::predict(Transformer& model, const std::vector<std::string>& lines, int64_t) const {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<std::string> out;
  for (const auto& line : lines) {
    // The text between the masks, tokenized piece by piece, with <mask> between them.
    std::vector<std::string> segments;
    for (size_t start = 0;;) {
      const size_t at = line.find(kMaskSymbol, start);
      segments.push_back(line.substr(start, at == std::string::npos ? std::string::npos : at - start));
      if (at == std::string::npos) break;
      start = at + kMaskSymbol.size();
    }
    std::vector<std::string> text;
    for (const auto& s : segments) text.push_back(blank(s) ? "" : s);
    const auto pieces = tokenizer_->tokenize_lines(text);
    std::vector<int64_t> tokens{Vocabulary::kBegin}, positions;
    for (size_t k = 0; k < segments.size(); ++k) {
      if (!text[k].empty())
        for (int64_t id : vocabulary_.encode(pieces[k])) tokens.push_back(id);
      if (k + 1 < segments.size()) positions.push_back(static_cast<int64_t>(tokens.size())), tokens.push_back(masking_.mask_index);
    }
    tokens.push_back(Vocabulary::kEnd);
    if (!positions.empty()) {
      auto source = torch::tensor(tokens, torch::kLong).unsqueeze(0).to(runtime_.device);
      auto index = torch::tensor(positions, torch::kLong).to(runtime_.device);
      const auto best = model->masked_lm_logits(model->encode(source), index).argmax(-1).cpu();
      for (size_t k = 0; k < positions.size(); ++k) tokens[positions[k]] = best[k].item<int64_t>();
    }
    out.push_back(tokenizer_->detokenize(vocabulary_.decode({tokens.begin() + 1, tokens.end()})));
  }
  return out;
}

}  // namespace headcount
