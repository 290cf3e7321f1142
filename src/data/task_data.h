// Everything a seq2seq run reads: the task's text split three ways, its tokenizers and
// vocabularies. Vocabularies (and sentencepiece models) are built from the training
// side on a run's first start and stored in the run folder; later starts and the
// translate/evaluate commands read them back, so indices never change under a model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/parallel_text.h"
#include "data/tokenizer.h"
#include "data/vocabulary.h"

namespace headcount {

struct Example {
  std::vector<int64_t> source, target;  // without BOS/EOS
};

// Unique sources with every reference they have (CMUdict words have several
// pronunciations; a corpus line has one).
struct EvaluationSet {
  std::vector<std::string> sources;                  // tokenized
  std::vector<std::vector<std::string>> references;  // tokenized
};

struct TaskData {
  ParallelSplits text;  // tokenized, space-separated
  Vocabulary source_vocabulary, target_vocabulary;
  std::unique_ptr<Tokenizer> source_tokenizer, target_tokenizer;
  bool group_references = false;  // CMUdict: one evaluation item per word

  std::vector<Example> encode(const ParallelText& text) const;
  EvaluationSet evaluation_set(const ParallelText& text) const;
  // Raw user input -> tokenized sources (lower-cased for CMUdict, as its words are stored).
  std::vector<std::string> prepare_sources(std::vector<std::string> raw) const;
};

// Reads the data the config names. With create set, builds vocabularies and tokenizer
// models into run_dir when they are not there yet; without it, they must be there.
TaskData load_task_data(const DataConfig& config, const std::string& run_dir, bool create);
// Only the tokenizers and vocabularies of an existing run (no text is read): for translating.
TaskData load_task_vocabularies(const DataConfig& config, const std::string& run_dir);

}  // namespace headcount
