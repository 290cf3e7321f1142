#include "eval/metrics.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

#include "data/vocabulary.h"
#include "util/text.h"

namespace headcount {

PronunciationScores score_pronunciations(const std::vector<std::string>& hypotheses,
                                         const std::vector<std::vector<std::string>>& references) {
  if (hypotheses.size() != references.size()) throw std::invalid_argument("hypotheses and references differ in number");
  PronunciationScores scores;
  int64_t wrong_words = 0, errors = 0, reference_length = 0;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hypothesis = split_tokens(hypotheses[i]);
    int64_t best = -1, best_length = 0;
    for (const auto& reference : references[i]) {
      const auto tokens = split_tokens(reference);
      const int64_t distance = edit_distance(hypothesis, tokens);
      if (best < 0 || distance < best) best = distance, best_length = static_cast<int64_t>(tokens.size());
    }
    wrong_words += best != 0;
    errors += best;
    reference_length += best_length;
  }
  scores.words = static_cast<int64_t>(hypotheses.size());
  if (scores.words) scores.word_error_rate = 100.0 * wrong_words / scores.words;
  if (reference_length) scores.phoneme_error_rate = 100.0 * errors / reference_length;
  return scores;
}

namespace {

// Python's str.split() whitespace, which sacreBLEU splits on: ASCII space and controls,
// the file/group/record/unit separators, and the Unicode spaces (no-break, thin, ideographic...).
bool is_whitespace_character(const std::string& character) {
  if (character.size() == 1) {
    const auto byte = static_cast<unsigned char>(character[0]);
    return std::isspace(byte) || (byte >= 0x1c && byte <= 0x1f);
  }
  static const std::set<std::string> wide{
      "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
      "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88",
      "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F",
      "\xE3\x80\x80"};
  return wide.count(character) > 0;
}

// The line cut at every whitespace character.
std::vector<std::string> split_at_whitespace(const std::string& line) {
  std::vector<std::string> tokens;
  std::string current;
  for (auto& character : utf8_characters(line)) {
    if (!is_whitespace_character(character)) {
      current += character;
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

// sacreBLEU drops empty reference strings; a sentence left with none is scored against
// one empty reference (sacreBLEU refuses it).
std::vector<std::string> usable_references(const std::vector<std::string>& references) {
  std::vector<std::string> kept;
  for (const auto& r : references)
    if (!r.empty()) kept.push_back(r);
  if (kept.empty()) kept.emplace_back();
  return kept;
}

}  // namespace

std::string tokenize_13a(const std::string& input) {
  std::string line = input;
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = line.find(from); at != std::string::npos; at = line.find(from, at + to.size()))
      line.replace(at, from.size(), to);
  };
  replace_all("<skipped>", "");
  replace_all("-\n", "");
  replace_all("\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all("&quot;", "\"");
    replace_all("&amp;", "&");
    replace_all("&lt;", "<");
    replace_all("&gt;", ">");
  }
  line = " " + line + " ";
  static const std::regex punctuation(R"(([\{-\~\[-\` -\&\(-\+\:-\@\/]))");
  static const std::regex period_comma_after(R"(([^0-9])([\.,]))");
  static const std::regex period_comma_before(R"(([\.,])([^0-9]))");
  static const std::regex dash_after_digit(R"(([0-9])(-))");
  line = std::regex_replace(line, punctuation, " $1 ");
  line = std::regex_replace(line, period_comma_after, "$1 $2 ");
  line = std::regex_replace(line, period_comma_before, " $1 $2");
  line = std::regex_replace(line, dash_after_digit, "$1 $2 ");
  std::string out;
  for (const auto& t : split_at_whitespace(line)) out += (out.empty() ? "" : " ") + t;
  return out;
}

using NgramCounts = std::map<std::vector<std::string>, int64_t>;

static NgramCounts ngrams(const std::vector<std::string>& tokens, size_t order) {
  NgramCounts counts;
  for (size_t i = 0; i + order <= tokens.size(); ++i)
    ++counts[std::vector<std::string>(tokens.begin() + i, tokens.begin() + i + order)];
  return counts;
}

double corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references) {
  if (hypotheses.size() != references.size()) throw std::invalid_argument("hypotheses and references differ in number");
  constexpr size_t kOrder = 4;
  std::vector<double> correct(kOrder, 0), total(kOrder, 0);
  double hypothesis_length = 0, reference_length = 0;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hypothesis = split_tokens(tokenize_13a(hypotheses[i]));
    std::vector<std::vector<std::string>> tokenized;
    for (const auto& r : usable_references(references[i])) tokenized.push_back(split_tokens(tokenize_13a(r)));
    hypothesis_length += hypothesis.size();
    // Closest reference length, the shorter one on a tie.
    size_t closest = tokenized[0].size();
    for (const auto& r : tokenized) {
      const auto d = std::abs(static_cast<long>(r.size()) - static_cast<long>(hypothesis.size()));
      const auto best = std::abs(static_cast<long>(closest) - static_cast<long>(hypothesis.size()));
      if (d < best || (d == best && r.size() < closest)) closest = r.size();
    }
    reference_length += closest;
    for (size_t n = 1; n <= kOrder; ++n) {
      NgramCounts maximum;
      for (const auto& r : tokenized)
        for (const auto& [gram, count] : ngrams(r, n)) maximum[gram] = std::max(maximum[gram], count);
      for (const auto& [gram, count] : ngrams(hypothesis, n)) {
        auto it = maximum.find(gram);
        correct[n - 1] += std::min(count, it == maximum.end() ? 0 : it->second);
        total[n - 1] += count;
      }
    }
  }
  if (hypothesis_length == 0) return 0.0;
  // No word in common: 0 before any smoothing (sacreBLEU issue #141); no longer n-gram can
  // match when no word does.
  if (correct[0] == 0) return 0.0;
  double log_sum = 0, smooth = 1.0;
  for (size_t n = 0; n < kOrder; ++n) {
    if (total[n] == 0) return 0.0;  // no n-grams of this order at all
    double precision;
    if (correct[n] == 0) {
      smooth *= 2;
      precision = 100.0 / (smooth * total[n]);
    } else {
      precision = 100.0 * correct[n] / total[n];
    }
    log_sum += std::log(precision);
  }
  const double brevity = hypothesis_length < reference_length ? std::exp(1.0 - reference_length / hypothesis_length) : 1.0;
  return brevity * std::exp(log_sum / kOrder);
}

namespace {

constexpr size_t kChrfOrder = 6;
constexpr double kChrfBetaSquared = 4.0;

// Per character order n (1..6): hypothesis n-grams, reference n-grams, matches. As in
// sacreBLEU, a hypothesis's n-grams count only where the reference has n-grams of that
// order.
using ChrfStatistics = std::array<double, 3 * kChrfOrder>;

// The UTF-8 characters of a line, whitespace removed.
std::vector<std::string> characters_without_whitespace(const std::string& line) {
  auto characters = utf8_characters(line);
  characters.erase(std::remove_if(characters.begin(), characters.end(), is_whitespace_character), characters.end());
  return characters;
}

ChrfStatistics chrf_statistics(const std::vector<NgramCounts>& hypothesis, const std::vector<std::string>& reference) {
  ChrfStatistics statistics{};
  for (size_t n = 1; n <= kChrfOrder; ++n) {
    const auto r = ngrams(reference, n);
    double hypothesis_count = 0, reference_count = 0, matches = 0;
    for (const auto& [gram, count] : hypothesis[n - 1]) {
      hypothesis_count += count;
      auto it = r.find(gram);
      if (it != r.end()) matches += std::min(count, it->second);
    }
    for (const auto& [gram, count] : r) reference_count += count;
    statistics[3 * (n - 1)] = r.empty() ? 0 : hypothesis_count;
    statistics[3 * (n - 1) + 1] = reference_count;
    statistics[3 * (n - 1) + 2] = matches;
  }
  return statistics;
}

// sacreBLEU 2's default chrF (no eps smoothing): precision and recall averaged over the
// orders that both sides have, then one F-beta of the averages.
double chrf_score(const ChrfStatistics& statistics) {
  double precision_sum = 0, recall_sum = 0;
  int effective = 0;
  for (size_t n = 0; n < kChrfOrder; ++n) {
    const double hypothesis_count = statistics[3 * n], reference_count = statistics[3 * n + 1];
    const double matches = statistics[3 * n + 2];
    if (hypothesis_count > 0 && reference_count > 0) {
      precision_sum += matches / hypothesis_count;
      recall_sum += matches / reference_count;
      ++effective;
    }
  }
  if (effective == 0) return 0.0;
  const double precision = precision_sum / effective, recall = recall_sum / effective;
  if (precision + recall == 0) return 0.0;
  return 100.0 * (1 + kChrfBetaSquared) * precision * recall / (kChrfBetaSquared * precision + recall);
}

}  // namespace

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references) {
  if (hypotheses.size() != references.size()) throw std::invalid_argument("hypotheses and references differ in number");
  ChrfStatistics total{};
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto characters = characters_without_whitespace(hypotheses[i]);
    std::vector<NgramCounts> hypothesis;
    for (size_t n = 1; n <= kChrfOrder; ++n) hypothesis.push_back(ngrams(characters, n));
    // With several references, the statistics of the one that scores best on this sentence.
    ChrfStatistics best{};
    double best_score = -1;
    for (const auto& reference : usable_references(references[i])) {
      const auto statistics = chrf_statistics(hypothesis, characters_without_whitespace(reference));
      const double score = chrf_score(statistics);
      if (score > best_score) best_score = score, best = statistics;
    }
    for (size_t k = 0; k < total.size(); ++k) total[k] += best[k];
  }
  return chrf_score(total);
}

}  // namespace headcount
