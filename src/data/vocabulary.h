// A token <-> index table. Indices 0-3 are the special symbols every model relies on:
// padding 0 (see model/transformer.h), begin-of-sequence 1, end-of-sequence 2, unknown 3.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace headcount {

class Vocabulary {
 public:
  static constexpr int64_t kPadding = 0, kBegin = 1, kEnd = 2, kUnknown = 3;

  Vocabulary();
  // Every token seen in `sentences` (space-separated tokens), most frequent first, ties by
  // spelling, so the same data always gives the same indices.
  static Vocabulary build(const std::vector<const std::vector<std::string>*>& sentences);

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // Appends a symbol the data does not contain (masked-LM's "<mask>"); returns its index.
  int64_t add_symbol(const std::string& token);
  bool contains(const std::string& token) const { return index_.count(token) > 0; }
  int64_t index(const std::string& token) const;
  const std::string& token(int64_t index) const { return tokens_.at(index); }

  std::vector<int64_t> encode(const std::string& sentence) const;  // space-separated tokens, no EOS
  // Stops at EOS; skips padding and BOS.
  std::string decode(const std::vector<int64_t>& indices) const;

  // One token a line, in index order; load throws naming the file on a bad one.
  void save(const std::string& path) const;
  static Vocabulary load(const std::string& path);

 private:
  void add(const std::string& token);
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> index_;
};

// Splits on runs of ASCII whitespace.
std::vector<std::string> split_tokens(const std::string& sentence);

}  // namespace headcount
