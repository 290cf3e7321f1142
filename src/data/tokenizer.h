// Raw text <-> space-separated tokens. Kinds:
//   char           every UTF-8 character a token; a space becomes "▁"
//   space          the text is already tokenized: split on whitespace
//   sentencepiece  subword pieces from a model trained on the training side
//
// SentencePiece runs as Debian's spm_train/spm_encode/spm_decode programs, not as the
// library: Debian's libsentencepiece carries its own copy of protobuf, whose symbols
// clash with the libprotobuf LibTorch loads and crash the process at start-up. Whole
// files go through one process each, so the cost is one start per split.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace headcount {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string tokenize(const std::string& raw) const = 0;
  virtual std::string detokenize(const std::string& tokens) const = 0;
  // Many lines at once (one process for sentencepiece); the defaults loop.
  virtual std::vector<std::string> tokenize_lines(const std::vector<std::string>& raw) const;
  virtual std::vector<std::string> detokenize_lines(const std::vector<std::string>& tokens) const;
};

// model_path: the sentencepiece model (ignored by the other kinds).
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_path = "");

// Trains a unigram sentencepiece model on `lines`, written to model_prefix + ".model".
void train_sentencepiece(const std::vector<const std::vector<std::string>*>& lines, const std::string& model_prefix,
                         int64_t vocabulary_size);

}  // namespace headcount
