#include "task/translation_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "eval/metrics.h"
#include "run/run_folder.h"

namespace fs = std::filesystem;

namespace headcount {

MetricInfo TranslationTask::primary_metric() const { return {"bleu", "BLEU", /*lower_is_better=*/false, kNoLearningBound, /*unit=*/""}; }

std::vector<std::string> TranslationTask::problems(const DataConfig& d) {
  std::vector<std::string> out;
  if (d.train_prefix.empty() || d.valid_prefix.empty())
    out.push_back("data.task parallel needs data.train_prefix and data.valid_prefix");
  if (d.tokenizer != "char" && d.tokenizer != "space" && d.tokenizer != "sentencepiece")
    out.push_back(fmt::format("data.tokenizer '{}' is unknown: expected char, space or sentencepiece", d.tokenizer));
  if (d.tokenizer == "sentencepiece" && d.vocab_size < 8) out.push_back("data.vocab_size must be at least 8 for sentencepiece");
  return out;
}

static bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); });
}

// PREFIX.SRC and PREFIX.TGT, line by line. A pair with an empty side is skipped and counted
// (data.bad_lines: skip) or an error naming its line.
static ParallelText read_pair(const DataConfig& c, const std::string& prefix, const std::string& key,
                              std::vector<std::string>& notes) {
  ParallelText text;
  const std::string source_path = prefix + "." + c.source_lang, target_path = prefix + "." + c.target_lang;
  auto source = read_lines(source_path), target = read_lines(target_path);
  if (source.size() != target.size())
    throw std::runtime_error(fmt::format("{} ({}): {} has {} lines but {} has {}", key, prefix, source_path,
                                         source.size(), target_path, target.size()));
  int64_t empty = 0;
  std::string first;
  for (size_t i = 0; i < source.size(); ++i) {
    if (blank(source[i]) || blank(target[i])) {
      const auto where = fmt::format("{}:{}", blank(source[i]) ? source_path : target_path, i + 1);
      if (c.bad_lines == "error")
        throw std::runtime_error(fmt::format("{}: an empty line (set data.bad_lines: skip to leave such pairs out)", where));
      if (!empty++) first = where;
      continue;
    }
    text.source.push_back(std::move(source[i]));
    text.target.push_back(std::move(target[i]));
  }
  if (empty) notes.push_back(fmt::format("{} pairs with an empty line left out of {} (the first at {})", empty, prefix, first));
  if (text.size() == 0) throw std::runtime_error(fmt::format("{} {}: no sentence pair in {} and {}", key, prefix, source_path, target_path));
  return text;
}

ParallelSplits TranslationTask::read_splits() {
  const auto& c = config_.data;
  ParallelSplits raw;
  raw.train = read_pair(c, c.train_prefix, "data.train_prefix", notes_);
  raw.valid = read_pair(c, c.valid_prefix, "data.valid_prefix", notes_);
  if (!c.test_prefix.empty()) raw.test = read_pair(c, c.test_prefix, "data.test_prefix", notes_);
  return raw;
}

Seq2SeqTask::Tokenizers TranslationTask::make_tokenizers(const std::string& run_dir,
                                                         const ParallelText* raw_train) const {
  const auto& c = config_.data;
  if (c.tokenizer != "sentencepiece") return {make_tokenizer(c.tokenizer), make_tokenizer(c.tokenizer)};
  const RunFolder folder(run_dir);
  const bool joint = c.joint_vocabulary;
  const auto source_model = folder.sentencepiece_model(joint ? PieceModel::Joint : PieceModel::Source);
  const auto target_model = folder.sentencepiece_model(joint ? PieceModel::Joint : PieceModel::Target);
  if (!fs::exists(source_model) || !fs::exists(target_model)) {
    if (!raw_train) throw std::runtime_error(fmt::format("{}: missing sentencepiece model", source_model));
    fs::create_directories(folder.dir());
    if (joint) {
      train_sentencepiece({&raw_train->source, &raw_train->target}, folder.sentencepiece_prefix(PieceModel::Joint),
                          c.vocab_size);
    } else {
      train_sentencepiece({&raw_train->source}, folder.sentencepiece_prefix(PieceModel::Source), c.vocab_size);
      train_sentencepiece({&raw_train->target}, folder.sentencepiece_prefix(PieceModel::Target), c.vocab_size);
    }
  }
  return {make_tokenizer("sentencepiece", source_model), make_tokenizer("sentencepiece", target_model)};
}

Metrics TranslationTask::score(const std::vector<std::string>& hypotheses, const EvaluationSet& set) const {
  const auto detokenized = target_tokenizer().detokenize_lines(hypotheses);
  // One detokenizer pass over every reference, then regrouped.
  std::vector<std::string> flat;
  for (const auto& group : set.references) flat.insert(flat.end(), group.begin(), group.end());
  const auto detokenized_flat = target_tokenizer().detokenize_lines(flat);
  std::vector<std::vector<std::string>> references;
  size_t next = 0;
  for (const auto& group : set.references) {
    references.emplace_back(detokenized_flat.begin() + next, detokenized_flat.begin() + next + group.size());
    next += group.size();
  }
  return {{"bleu", corpus_bleu(detokenized, references)},
          {"chrf", corpus_chrf(detokenized, references)},
          {"sentences", static_cast<int64_t>(detokenized.size())}};
}

}  // namespace headcount
