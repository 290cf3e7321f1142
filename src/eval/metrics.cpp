#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
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
  for (const auto& t : split_tokens(line)) out += (out.empty() ? "" : " ") + t;
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
    for (const auto& r : references[i]) tokenized.push_back(split_tokens(tokenize_13a(r)));
    hypothesis_length += hypothesis.size();
    // Closest reference length, the shorter one on a tie.
    size_t closest = tokenized.empty() ? 0 : tokenized[0].size();
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

// UTF-8 characters of a line with all whitespace removed.
static std::vector<std::string> characters_without_spaces(const std::string& line) {
  auto characters = utf8_characters(line);
  characters.erase(std::remove_if(characters.begin(), characters.end(),
                                  [](const std::string& c) { return std::isspace(static_cast<unsigned char>(c[0])); }),
                   characters.end());
  return characters;
}

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references) {
  if (hypotheses.size() != references.size()) throw std::invalid_argument("hypotheses and references differ in number");
  constexpr size_t kOrder = 6;
  constexpr double kBetaSquared = 4.0;
  std::vector<double> hypothesis_count(kOrder, 0), reference_count(kOrder, 0), matches(kOrder, 0);
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hypothesis = characters_without_spaces(hypotheses[i]);
    // With several references sacreBLEU keeps the statistics of the best-scoring one;
    // here: the first reference (the single-reference case is the common one).
    const auto reference = characters_without_spaces(references[i].empty() ? "" : references[i][0]);
    for (size_t n = 1; n <= kOrder; ++n) {
      auto h = ngrams(hypothesis, n), r = ngrams(reference, n);
      for (const auto& [gram, count] : h) {
        hypothesis_count[n - 1] += count;
        auto it = r.find(gram);
        if (it != r.end()) matches[n - 1] += std::min(count, it->second);
      }
      for (const auto& [gram, count] : r) reference_count[n - 1] += count;
    }
  }
  constexpr double kEpsilon = 1e-16;
  double score = 0;
  int effective = 0;
  for (size_t n = 0; n < kOrder; ++n) {
    const double precision = hypothesis_count[n] > 0 ? matches[n] / hypothesis_count[n] : kEpsilon;
    const double recall = reference_count[n] > 0 ? matches[n] / reference_count[n] : kEpsilon;
    const double denominator = kBetaSquared * precision + recall;
    score += denominator > 0 ? (1 + kBetaSquared) * precision * recall / denominator : kEpsilon;
    effective += hypothesis_count[n] > 0 && reference_count[n] > 0;
  }
  return effective ? 100.0 * score / effective : 0.0;
}

}  // namespace headcount
