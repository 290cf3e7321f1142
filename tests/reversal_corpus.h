// A tiny parallel corpus in the fairseq file layout (DIR/train.src, DIR/train.tgt, and the
// same for valid and test): each source 2 to most_tokens letters from a-h, its target the
// same letters reversed. Drawn from a fixed seed, so the same sizes give the same files.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace headcount::testing {

inline std::string write_reversal_corpus(const std::string& dir, int train, int valid, int test, int most_tokens) {
  std::filesystem::create_directories(dir);
  std::mt19937 random(5);
  for (auto [name, lines] : {std::pair{"train", train}, std::pair{"valid", valid}, std::pair{"test", test}}) {
    std::ofstream source(dir + "/" + name + ".src"), target(dir + "/" + name + ".tgt");
    for (int i = 0; i < lines; ++i) {
      std::vector<std::string> tokens(2 + random() % (most_tokens - 1));
      for (auto& t : tokens) t = std::string(1, static_cast<char>('a' + random() % 8));
      for (size_t j = 0; j < tokens.size(); ++j) source << (j ? " " : "") << tokens[j];
      for (size_t j = tokens.size(); j-- > 0;) target << tokens[j] << (j ? " " : "");
      source << "\n", target << "\n";
    }
  }
  return dir;
}

}  // namespace headcount::testing
