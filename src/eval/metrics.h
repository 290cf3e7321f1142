// Scores of outputs against references.
//   WER/PER (grapheme-to-phoneme): a word is right when its output equals any of its
//     reference pronunciations; PER is the edit distance to the closest reference over
//     that reference's length, summed over the corpus.
//   BLEU: corpus BLEU as sacreBLEU 2 computes it by default (13a tokenization, 4-grams,
//     exponential brevity penalty, 'exp' smoothing, 0 when no word matches), on
//     detokenized text.
//   chrF: sacreBLEU 2's default chrF (character 6-grams, beta 2, whitespace ignored,
//     precision and recall averaged over the orders present; with several references the
//     best-scoring one per sentence).
// Both drop empty references as sacreBLEU does; tests/metrics_test.cpp checks them against
// sacreBLEU's own test values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/text.h"  // edit_distance

namespace headcount {

struct PronunciationScores {
  double word_error_rate = 0;     // percent
  double phoneme_error_rate = 0;  // percent
  int64_t words = 0;
};
// hypotheses[i] and references[i] are space-separated tokens.
PronunciationScores score_pronunciations(const std::vector<std::string>& hypotheses,
                                         const std::vector<std::vector<std::string>>& references);

// sacreBLEU's '13a' tokenizer (mteval-v13a).
std::string tokenize_13a(const std::string& line);
// references[i]: the references of sentence i (one or more).
double corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references);
double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::vector<std::string>>& references);

}  // namespace headcount
