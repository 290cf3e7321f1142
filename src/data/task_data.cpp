#include "data/task_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "data/cmudict.h"

namespace fs = std::filesystem;

namespace headcount {

std::vector<Example> TaskData::encode(const ParallelText& text) const {
  std::vector<Example> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    out[i].source = source_vocabulary.encode(text.source[i]);
    out[i].target = target_vocabulary.encode(text.target[i]);
  }
  return out;
}

EvaluationSet TaskData::evaluation_set(const ParallelText& text) const {
  EvaluationSet set;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < text.size(); ++i) {
    if (group_references) {
      auto [it, inserted] = seen.emplace(text.source[i], set.sources.size());
      if (!inserted) {
        set.references[it->second].push_back(text.target[i]);
        continue;
      }
    }
    set.sources.push_back(text.source[i]);
    set.references.push_back({text.target[i]});
  }
  return set;
}

static void lower_case(std::vector<std::string>& lines) {
  for (auto& line : lines)
    std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
}

std::vector<std::string> TaskData::prepare_sources(std::vector<std::string> raw) const {
  if (group_references) lower_case(raw);
  return source_tokenizer->tokenize_lines(raw);
}

static ParallelText read_pair(const DataConfig& c, const std::string& prefix, const std::string& key) {
  ParallelText text;
  const std::string source_path = prefix + "." + c.source_lang, target_path = prefix + "." + c.target_lang;
  text.source = read_lines(source_path);
  text.target = read_lines(target_path);
  if (text.source.size() != text.target.size())
    throw std::runtime_error(fmt::format("{} ({}): {} has {} lines but {} has {}", key, prefix, source_path,
                                         text.source.size(), target_path, text.target.size()));
  return text;
}

static void tokenize_all(ParallelSplits& splits, const Tokenizer& source, const Tokenizer& target) {
  for (auto* split : {&splits.train, &splits.valid, &splits.test}) {
    if (split->size() == 0) continue;
    split->source = source.tokenize_lines(split->source);
    split->target = target.tokenize_lines(split->target);
  }
}

TaskData load_task_data(const DataConfig& c, const std::string& run_dir, bool create) {
  TaskData data;
  ParallelSplits raw;
  std::string source_kind, target_kind;
  if (c.task == "cmudict") {
    raw = load_cmudict(c.cmudict_path, {c.keep_stress});
    data.group_references = true;
    source_kind = "char", target_kind = "space";
  } else {
    raw.train = read_pair(c, c.train_prefix, "data.train_prefix");
    raw.valid = read_pair(c, c.valid_prefix, "data.valid_prefix");
    if (!c.test_prefix.empty()) raw.test = read_pair(c, c.test_prefix, "data.test_prefix");
    source_kind = target_kind = c.tokenizer;
  }

  const fs::path dir(run_dir);
  std::string source_model, target_model;
  if (source_kind == "sentencepiece") {
    const bool joint = c.joint_vocabulary;
    source_model = (dir / (joint ? "sentencepiece.model" : "sentencepiece.source.model")).string();
    target_model = (dir / (joint ? "sentencepiece.model" : "sentencepiece.target.model")).string();
    if (!fs::exists(source_model) || !fs::exists(target_model)) {
      if (!create) throw std::runtime_error(fmt::format("{}: missing sentencepiece model", source_model));
      if (joint) {
        train_sentencepiece({&raw.train.source, &raw.train.target}, (dir / "sentencepiece").string(), c.vocab_size);
      } else {
        train_sentencepiece({&raw.train.source}, (dir / "sentencepiece.source").string(), c.vocab_size);
        train_sentencepiece({&raw.train.target}, (dir / "sentencepiece.target").string(), c.vocab_size);
      }
    }
  }
  data.source_tokenizer = make_tokenizer(source_kind, source_model);
  data.target_tokenizer = make_tokenizer(target_kind, target_model);
  if (data.group_references)
    for (auto* split : {&raw.train, &raw.valid, &raw.test}) lower_case(split->source);
  tokenize_all(raw, *data.source_tokenizer, *data.target_tokenizer);
  data.text = std::move(raw);

  const auto source_path = dir / "source.vocab", target_path = dir / "target.vocab";
  if (fs::exists(source_path) && fs::exists(target_path)) {
    data.source_vocabulary = Vocabulary::load(source_path.string());
    data.target_vocabulary = Vocabulary::load(target_path.string());
  } else {
    if (!create) throw std::runtime_error(fmt::format("{}: missing vocabulary", source_path.string()));
    if (c.joint_vocabulary) {
      data.source_vocabulary = data.target_vocabulary = Vocabulary::build({&data.text.train.source, &data.text.train.target});
    } else {
      data.source_vocabulary = Vocabulary::build({&data.text.train.source});
      data.target_vocabulary = Vocabulary::build({&data.text.train.target});
    }
    fs::create_directories(dir);
    data.source_vocabulary.save(source_path.string());
    data.target_vocabulary.save(target_path.string());
  }
  return data;
}

TaskData load_task_vocabularies(const DataConfig& c, const std::string& run_dir) {
  TaskData data;
  const fs::path dir(run_dir);
  data.group_references = c.task == "cmudict";
  const std::string kind = data.group_references ? "char" : c.tokenizer;
  const std::string target_kind = data.group_references ? "space" : c.tokenizer;
  const bool joint = c.joint_vocabulary;
  data.source_tokenizer =
      make_tokenizer(kind, (dir / (joint ? "sentencepiece.model" : "sentencepiece.source.model")).string());
  data.target_tokenizer =
      make_tokenizer(target_kind, (dir / (joint ? "sentencepiece.model" : "sentencepiece.target.model")).string());
  data.source_vocabulary = Vocabulary::load((dir / "source.vocab").string());
  data.target_vocabulary = Vocabulary::load((dir / "target.vocab").string());
  return data;
}

}  // namespace headcount
