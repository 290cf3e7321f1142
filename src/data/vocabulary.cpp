#include "data/vocabulary.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <stdexcept>

#include "data/parallel_text.h"  // read_lines
#include "util/durable_file.h"

namespace headcount {

Vocabulary::Vocabulary() {
  for (const char* special : {"<pad>", "<s>", "</s>", "<unk>"}) add(special);
}

void Vocabulary::add(const std::string& token) {
  index_.emplace(token, static_cast<int64_t>(tokens_.size()));
  tokens_.push_back(token);
}

int64_t Vocabulary::add_symbol(const std::string& token) {
  if (!contains(token)) add(token);
  return index_.at(token);
}

std::vector<std::string> split_tokens(const std::string& sentence) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < sentence.size()) {
    while (i < sentence.size() && std::isspace(static_cast<unsigned char>(sentence[i]))) ++i;
    size_t j = i;
    while (j < sentence.size() && !std::isspace(static_cast<unsigned char>(sentence[j]))) ++j;
    if (j > i) out.push_back(sentence.substr(i, j - i));
    i = j;
  }
  return out;
}

Vocabulary Vocabulary::build(const std::vector<const std::vector<std::string>*>& corpora) {
  std::map<std::string, int64_t> counts;
  for (const auto* sentences : corpora)
    for (const auto& s : *sentences)
      for (const auto& t : split_tokens(s)) ++counts[t];
  std::vector<std::pair<std::string, int64_t>> ordered(counts.begin(), counts.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  Vocabulary vocabulary;
  for (const auto& [token, count] : ordered)
    if (!vocabulary.index_.count(token)) vocabulary.add(token);
  return vocabulary;
}

int64_t Vocabulary::index(const std::string& token) const {
  auto it = index_.find(token);
  return it == index_.end() ? kUnknown : it->second;
}

std::vector<int64_t> Vocabulary::encode(const std::string& sentence) const {
  std::vector<int64_t> out;
  for (const auto& t : split_tokens(sentence)) out.push_back(index(t));
  return out;
}

std::string Vocabulary::decode(const std::vector<int64_t>& indices) const {
  std::string out;
  for (int64_t i : indices) {
    if (i == kEnd) break;
    if (i == kPadding || i == kBegin) continue;
    if (!out.empty()) out += ' ';
    out += (i >= 0 && i < size()) ? tokens_[i] : tokens_[kUnknown];
  }
  return out;
}

void Vocabulary::save(const std::string& path) const {
  std::string text;
  for (const auto& t : tokens_) text += t + "\n";
  write_file_durably(path, text);
}

Vocabulary Vocabulary::load(const std::string& path) {
  const auto lines = read_lines(path);  // UTF-8 checked, named file:line
  Vocabulary v;
  for (size_t i = 0; i < v.tokens_.size(); ++i)
    if (i >= lines.size() || lines[i] != v.tokens_[i])
      throw std::runtime_error(fmt::format("{}:{}: expected the special token '{}'", path, i + 1, v.tokens_[i]));
  for (size_t i = v.tokens_.size(); i < lines.size(); ++i) {
    if (lines[i].empty() || v.index_.count(lines[i]))
      throw std::runtime_error(fmt::format("{}:{}: empty or repeated token '{}'", path, i + 1, lines[i]));
    v.add(lines[i]);
  }
  return v;
}

}  // namespace headcount
