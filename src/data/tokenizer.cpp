#include "data/tokenizer.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "data/vocabulary.h"
#include "util/text.h"

namespace headcount {

namespace {

const std::string kSpaceMark = "\xE2\x96\x81";  // U+2581, as sentencepiece writes spaces

class CharTokenizer : public Tokenizer {
 public:
  std::string tokenize(const std::string& raw) const override {
    std::string out;
    for (auto& character : utf8_characters(raw)) {
      if (character == " " || character == "\t") character = kSpaceMark;
      if (!out.empty()) out += ' ';
      out += character;
    }
    return out;
  }
  std::string detokenize(const std::string& tokens) const override {
    std::string out;
    for (const auto& t : split_tokens(tokens)) out += t == kSpaceMark ? " " : t;
    return out;
  }
};

class SpaceTokenizer : public Tokenizer {
 public:
  std::string tokenize(const std::string& raw) const override {
    std::string out;
    for (const auto& t : split_tokens(raw)) out += (out.empty() ? "" : " ") + t;
    return out;
  }
  std::string detokenize(const std::string& tokens) const override { return tokens; }
};

// Runs `command` with the lines on its standard input; returns its output lines.
std::vector<std::string> run_filter(const std::string& command, const std::vector<std::string>& lines,
                                    const std::string& scratch_prefix) {
  const std::string input = scratch_prefix + ".in", output = scratch_prefix + ".out";
  {
    std::ofstream out(input);
    for (const auto& line : lines) out << line << "\n";
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write", input));
  }
  const int status = std::system((command + " < " + shell_quote(input) + " > " + shell_quote(output)).c_str());
  std::vector<std::string> result;
  {
    std::ifstream in(output);
    for (std::string line; std::getline(in, line);) result.push_back(line);
  }
  std::filesystem::remove(input);
  std::filesystem::remove(output);
  if (status != 0 || result.size() != lines.size())
    throw std::runtime_error(fmt::format("'{}' failed (status {}, {} of {} lines); is Debian's sentencepiece installed?",
                                         command, status, result.size(), lines.size()));
  return result;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : model_(path) {
    if (!std::filesystem::exists(path)) throw std::runtime_error(fmt::format("{}: no sentencepiece model", path));
  }
  std::string tokenize(const std::string& raw) const override { return tokenize_lines({raw}).front(); }
  std::string detokenize(const std::string& tokens) const override { return detokenize_lines({tokens}).front(); }
  std::vector<std::string> tokenize_lines(const std::vector<std::string>& raw) const override {
    return run_filter("spm_encode --output_format=piece --model=" + shell_quote(model_), raw, scratch());
  }
  std::vector<std::string> detokenize_lines(const std::vector<std::string>& tokens) const override {
    return run_filter("spm_decode --input_format=piece --model=" + shell_quote(model_), tokens, scratch());
  }

 private:
  std::string scratch() const {
    return (std::filesystem::temp_directory_path() / fmt::format("headcount-spm-{}", static_cast<const void*>(this))).string();
  }
  std::string model_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& model_path) {
  if (kind == "char") return std::make_unique<CharTokenizer>();
  if (kind == "space") return std::make_unique<SpaceTokenizer>();
  if (kind == "sentencepiece") return std::make_unique<SentencePieceTokenizer>(model_path);
  throw std::invalid_argument(fmt::format("unknown tokenizer '{}': expected char, space or sentencepiece", kind));
}

std::vector<std::string> Tokenizer::tokenize_lines(const std::vector<std::string>& raw) const {
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (const auto& line : raw) out.push_back(tokenize(line));
  return out;
}

std::vector<std::string> Tokenizer::detokenize_lines(const std::vector<std::string>& tokens) const {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const auto& line : tokens) out.push_back(detokenize(line));
  return out;
}

void train_sentencepiece(const std::vector<const std::vector<std::string>*>& lines, const std::string& model_prefix,
                         int64_t vocabulary_size) {
  const std::string input = model_prefix + ".training-text";
  {
    std::ofstream out(input);
    for (const auto* side : lines)
      for (const auto& line : *side) out << line << "\n";
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write", input));
  }
  const std::string command = fmt::format(
      "spm_train --input={} --model_prefix={} --vocab_size={} --model_type=unigram --character_coverage=1.0 "
      "--input_sentence_size=2000000 --shuffle_input_sentence=true --hard_vocab_limit=false --minloglevel=2 "
      "--num_threads=2 > {} 2>&1",
      shell_quote(input), shell_quote(model_prefix), vocabulary_size, shell_quote(model_prefix + ".training-log"));
  const int status = std::system(command.c_str());
  std::filesystem::remove(input);
  if (status != 0) {
    std::string last_line;
    std::ifstream log(model_prefix + ".training-log");
    for (std::string line; std::getline(log, line);)
      if (!line.empty()) last_line = line;
    throw std::runtime_error(fmt::format("training the sentencepiece model {}.model failed (status {}): {}", model_prefix,
                                         status, last_line));
  }
}

}  // namespace headcount
