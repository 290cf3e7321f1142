// Scores on worked examples whose values follow from the definitions by hand, and on
// sacreBLEU's own reference values.
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
  // "ab" vs "abc": 1-grams P 1 R 2/3, 2-grams P 1 R 1/2, no 3-grams in the hypothesis: two
  // effective orders, mean P 1 and R 7/12, F2 = 5PR/(4P+R) = 35/55.
  EXPECT_NEAR(corpus_chrf({"ab"}, {{"abc"}}), 100.0 * 35 / 55, 1e-9);
  // Spaces are ignored.
  EXPECT_NEAR(corpus_chrf({"a b c"}, {{"abc"}}), 100.0, 1e-9);
  // Corpus statistics, and a hypothesis's n-grams of an order its reference lacks do not
  // count: "xyzw" vs "xy" adds 1-grams H 4 R 2 M 2, 2-grams H 3 R 1 M 1, nothing longer.
  // Totals: P 10/12, 8/10, then 1 for orders 3-6; R 1 everywhere.
  const double precision = (10.0 / 12 + 8.0 / 10 + 4) / 6;
  EXPECT_NEAR(corpus_chrf({"abcdefgh", "xyzw"}, {{"abcdefgh"}, {"xy"}}), 100.0 * 5 * precision / (4 * precision + 1),
              1e-9);
}

// Values from sacreBLEU's README and tests (github.com/mjpost/sacrebleu: README.md,
// test/test_bleu.py, test/test_sentence_bleu.py, test/test_chrf.py), default settings.
TEST(Metrics, SacreBleuReferenceValues) {
  const std::vector<std::string> hypotheses{"The dog bit the man.", "It wasn't surprising.",
                                            "The man had just bitten him."};
  const std::vector<std::vector<std::string>> references{{"The dog bit the man.", "The dog had bit the man."},
                                                         {"It was not unexpected.", "No one was surprised."},
                                                         {"The man bit him first.", "The man had bitten the dog."}};
  EXPECT_NEAR(corpus_bleu(hypotheses, references), 48.530827, 1e-6);  // test_bleu.py
  EXPECT_EQ(corpus_bleu({"", "", ""}, references), 0.0);
  EXPECT_NEAR(corpus_chrf(hypotheses, references), 59.73, 0.005);  // README: chrF2 = 59.73
  // README, "Variable Number of References": the first sentence without its first
  // reference gives BLEU = 29.44; an empty reference string is the same as none.
  auto fewer = references;
  fewer[0] = {"The dog had bit the man."};
  EXPECT_NEAR(corpus_bleu(hypotheses, fewer), 29.44, 0.005);
  fewer[0] = {"", "The dog had bit the man."};
  EXPECT_NEAR(corpus_bleu(hypotheses, fewer), 29.44, 0.005);
  // test_sentence_bleu.py, issue #98 (all four n-gram orders present, so effective order
  // changes nothing).
  EXPECT_NEAR(corpus_bleu({"Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"},
                          {{"producţia de zahăr brut se exprimă în zahăr alb;"}}),
              8.493, 1e-3);
  // Issue #141: no word in common is 0, before any smoothing.
  EXPECT_EQ(corpus_bleu({"this is a cat"}, {{"okay thanks"}}), 0.0);
  EXPECT_EQ(corpus_bleu({"this is a test", "another test"}, {{"ref1"}, {"ref2"}}), 0.0);
  // test_chrf.py, effective order (precision equals recall in each, so beta does not matter).
  EXPECT_NEAR(corpus_chrf({"aa"}, {{"ab"}}), 25.0, 1e-9);
  EXPECT_NEAR(corpus_chrf({"a", "b"}, {{"a"}, {"c"}}), 50.0, 1e-9);
  EXPECT_NEAR(corpus_chrf({""}, {{"reference"}}), 0.0, 1e-9);
}

TEST(Metrics, UnicodeSpacesSeparateTokensAsInSacreBleu) {
  // A no-break space (U+00A0) before French punctuation splits like a plain space.
  EXPECT_EQ(tokenize_13a("Bonjour\xC2\xA0!"), "Bonjour !");
  EXPECT_NEAR(corpus_chrf({"a\xE2\x80\xAF" "b"}, {{"ab"}}), 100.0, 1e-9);  // narrow no-break space
}

}  // namespace
}  // namespace headcount
