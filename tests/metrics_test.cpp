// Scores on worked examples whose values follow from the definitions by hand.
#include <cmath>

#include "eval/metrics.h"
#include "test_support.h"

namespace headcount {
namespace {

TEST(Metrics, EditDistance) {
  using Tokens = std::vector<std::string>;
  EXPECT_EQ(edit_distance(Tokens{"a", "b", "c"}, Tokens{"a", "b", "c"}), 0);
  EXPECT_EQ(edit_distance(Tokens{"k", "i", "t", "t", "e", "n"}, Tokens{"s", "i", "t", "t", "i", "n", "g"}), 3);
  EXPECT_EQ(edit_distance(Tokens{}, Tokens{"x", "y"}), 2);
  EXPECT_EQ(edit_distance(std::string("kitten"), std::string("sitting")), 3);
}

TEST(Metrics, WordAndPhonemeErrorRatesUseTheClosestReference) {
  // Word 2 matches its second pronunciation; word 3 misses one phoneme of four.
  auto scores = score_pronunciations({"K AE T", "D AO G", "B ER D"},
                                     {{"K AE T"}, {"D AA G", "D AO G"}, {"B ER D Z"}});
  EXPECT_EQ(scores.words, 3);
  EXPECT_NEAR(scores.word_error_rate, 100.0 / 3, 1e-9);
  EXPECT_NEAR(scores.phoneme_error_rate, 100.0 * 1 / (3 + 3 + 4), 1e-9);
}

TEST(Metrics, Tokenize13aSplitsPunctuationLikeMteval) {
  EXPECT_EQ(tokenize_13a("Hello, world! It's 3.14-5."), "Hello , world ! It's 3.14 - 5 .");
  EXPECT_EQ(tokenize_13a("a &amp; b &lt;c&gt;"), "a & b < c >");
}

TEST(Metrics, CorpusBleuWorkedExample) {
  // hyp "the cat sat on the mat" vs ref "the cat is on the mat":
  // 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3 -> 'exp' smoothing 1/(2*3); BP 1.
  const double expected = 100.0 * std::pow((5.0 / 6) * (3.0 / 5) * (1.0 / 4) * (1.0 / 6), 0.25);
  EXPECT_NEAR(corpus_bleu({"the cat sat on the mat"}, {{"the cat is on the mat"}}), expected, 1e-9);
  EXPECT_NEAR(expected, 37.99, 0.01);
  EXPECT_NEAR(corpus_bleu({"The cat sat on the mat."}, {{"The cat sat on the mat."}}), 100.0, 1e-9);
}

TEST(Metrics, CorpusBleuBrevityPenaltyAndCorpusLevelCounts) {
  // Two sentences pooled: hyp lengths 4 + 4 = 8, refs 4 + 6 = 10 -> BP exp(1 - 10/8).
  // 1-grams 8/8, 2-grams 6/6, 3-grams 4/4, 4-grams 2/2: precisions all 1.
  const double bleu = corpus_bleu({"a b c d", "e f g h"}, {{"a b c d"}, {"e f g h i j"}});
  EXPECT_NEAR(bleu, 100.0 * std::exp(1.0 - 10.0 / 8.0), 1e-9);
  // With several references the closest length counts: 4 is closer than 7.
  EXPECT_NEAR(corpus_bleu({"a b c d"}, {{"a b c d e f g", "a b c d"}}), 100.0, 1e-9);
  // Too short to have any 4-gram: BLEU is 0, as in sacreBLEU without effective order.
  EXPECT_EQ(corpus_bleu({"the cat"}, {{"the cat is on the mat"}}), 0.0);
}

TEST(Metrics, ChrFWorkedExample) {
  EXPECT_NEAR(corpus_chrf({"abc"}, {{"abc"}}), 100.0, 1e-9);
  // "ab" vs "abc": 1-grams P 1 R 2/3 -> F2 = 5PR/(4P+R) = 10/14; 2-grams P 1 R 1/2 -> 5/9;
  // no 3-grams in the hypothesis, so two effective orders.
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"abc"}}), 100.0 * (10.0 / 14 + 5.0 / 9) / 2, 1e-9);
  // Spaces are ignored.
  EXPECT_NEAR(corpus_chrf({"a b c"}, {{"abc"}}), 100.0, 1e-9);
}

}  // namespace
}  // namespace headcount
