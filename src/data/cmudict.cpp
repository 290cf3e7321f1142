#include "data/cmudict.h"

#include <fmt/format.h>

#include <cctype>
#include <stdexcept>

#include "data/vocabulary.h"

namespace headcount {

int cmudict_split_of(const std::string& word) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : word) hash = (hash ^ c) * 1099511628211ull;
  const int bucket = static_cast<int>(hash % 100);
  return bucket < 90 ? 0 : bucket < 95 ? 1 : 2;
}

ParallelSplits load_cmudict(const std::string& path, const CmudictOptions& options) {
  const auto lines = read_lines(path);
  ParallelSplits splits;
  for (size_t n = 0; n < lines.size(); ++n) {
    const auto& line = lines[n];
    if (line.empty() || line.rfind(";;;", 0) == 0) continue;
    auto tokens = split_tokens(line);
    if (tokens.size() < 2) continue;  // a headword without a pronunciation teaches nothing
    std::string word = tokens[0];
    // Alternative pronunciations are written WORD(1), WORD(2).
    if (auto paren = word.find('('); paren != std::string::npos && paren > 0 && word.back() == ')')
      word = word.substr(0, paren);
    std::string letters, phonemes;
    // The word as written: the char tokenizer makes each letter a token, exactly as it
    // does for a word typed into `headcount translate`.
    for (unsigned char c : word) letters += static_cast<char>(std::tolower(c));
    for (size_t i = 1; i < tokens.size(); ++i) {
      std::string phoneme = tokens[i];
      if (!options.keep_stress)
        while (!phoneme.empty() && std::isdigit(static_cast<unsigned char>(phoneme.back()))) phoneme.pop_back();
      if (phoneme.empty())
        throw std::runtime_error(fmt::format("{}:{}: empty phoneme in '{}'", path, n + 1, line));
      if (!phonemes.empty()) phonemes += ' ';
      phonemes += phoneme;
    }
    ParallelText* split[] = {&splits.train, &splits.valid, &splits.test};
    auto* target = split[cmudict_split_of(word)];
    target->source.push_back(std::move(letters));
    target->target.push_back(std::move(phonemes));
  }
  if (splits.train.size() == 0) throw std::runtime_error(fmt::format("{}: no dictionary entries found", path));
  return splits;
}

}  // namespace headcount
