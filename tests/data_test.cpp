// Data: CMUdict parsing and split, vocabularies, tokenizers, token-budget batches.
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "data/batching.h"
#include "data/cmudict.h"
#include "data/tokenizer.h"
#include "data/vocabulary.h"
#include "task/g2p_task.h"
#include "test_support.h"

namespace headcount {
namespace {

std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

TEST(Cmudict, ParsesAlternativesStripsStressAndSplitsByWord) {
  const auto path = temp_path("hc_cmudict_small.dict");
  {
    std::ofstream out(path);
    out << ";;; comment\nAARON  EH1 R AH0 N\nAARON(1)  AA1 R AH0 N\nA.  EY1\nBOOK  B UH1 K\n";
  }
  auto splits = load_cmudict(path, {false});
  const size_t total = splits.train.size() + splits.valid.size() + splits.test.size();
  EXPECT_EQ(total, 4u);
  // Both pronunciations of "aaron" sit in the same split, stress removed.
  const auto& split = splits.split(cmudict_split_of("AARON") == 0 ? "train" : cmudict_split_of("AARON") == 1 ? "valid" : "test");
  std::multiset<std::string> aaron;
  for (size_t i = 0; i < split.size(); ++i)
    if (split.source[i] == "aaron") aaron.insert(split.target[i]);
  EXPECT_EQ(aaron, (std::multiset<std::string>{"EH R AH N", "AA R AH N"}));
  auto stressed = load_cmudict(path, {true});
  bool found = false;
  for (const auto* s : {&stressed.train, &stressed.valid, &stressed.test})
    for (const auto& t : s->target) found |= t == "EH1 R AH0 N";
  EXPECT_TRUE(found);
}

TEST(Cmudict, EmbeddedDictionarySplitIsAboutNinetyFiveFive) {
  auto splits = load_cmudict(std::string(HEADCOUNT_SOURCE_DIR) + "/data/cmudict/cmudict.dict.gz", {false});
  const double total = splits.train.size() + splits.valid.size() + splits.test.size();
  EXPECT_GT(total, 130000);
  EXPECT_NEAR(splits.train.size() / total, 0.90, 0.01);
  EXPECT_NEAR(splits.valid.size() / total, 0.05, 0.01);
  EXPECT_NEAR(splits.test.size() / total, 0.05, 0.01);
  for (const auto& t : splits.train.target) ASSERT_EQ(t.find_first_of("0123456789"), std::string::npos) << t;
}

TEST(Cmudict, WordsAreLetterTokensTheSameWayInTrainingAndInTranslate) {
  RunConfig config;
  config.data.task = TaskKind::Cmudict;
  config.data.cmudict_path = std::string(HEADCOUNT_SOURCE_DIR) + "/data/cmudict/cmudict.dict.gz";
  const auto dir = temp_path("hc_cmudict_task");
  std::filesystem::remove_all(dir);
  G2pTask data(config, Runtime{});
  data.load(dir, /*create=*/true);
  // One token per letter and nothing between them.
  const size_t index = 0;
  const auto tokens = split_tokens(data.text().train.source[index]);
  const auto example = data.encode(data.text().train).at(index);
  EXPECT_EQ(example.source.size(), tokens.size());
  std::string word;
  for (const auto& t : tokens) {
    EXPECT_EQ(t.size(), 1u) << data.text().train.source[index];
    word += t;
  }
  // A word typed by a user (any case) becomes the very same tokens.
  std::string typed = word;
  typed[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(typed[0])));
  EXPECT_EQ(data.prepare_sources({typed}).at(0), data.text().train.source[index]);
  G2pTask vocabulary(config, Runtime{});
  vocabulary.load_for_prediction(dir);
  EXPECT_EQ(vocabulary.source_vocabulary().size(), data.source_vocabulary().size());
}

TEST(Vocabulary, SpecialsFirstFrequencyOrderAndRoundTrip) {
  std::vector<std::string> lines{"b a b", "c b"};
  auto v = Vocabulary::build({&lines});
  EXPECT_EQ(v.token(Vocabulary::kPadding), "<pad>");
  EXPECT_EQ(v.token(4), "b");  // most frequent
  EXPECT_EQ(v.encode("a z"), (std::vector<int64_t>{v.index("a"), Vocabulary::kUnknown}));
  EXPECT_EQ(v.decode({v.index("c"), v.index("a"), Vocabulary::kEnd, v.index("b")}), "c a");
  const auto path = temp_path("hc_vocab.txt");
  v.save(path);
  auto loaded = Vocabulary::load(path);
  EXPECT_EQ(loaded.size(), v.size());
  EXPECT_EQ(loaded.index("c"), v.index("c"));
  { std::ofstream(path) << "<pad>\nnot-special\n"; }
  EXPECT_THROW(Vocabulary::load(path), std::runtime_error);
}

TEST(Tokenizer, CharAndSpaceRoundTrip) {
  auto chars = make_tokenizer("char");
  EXPECT_EQ(chars->tokenize("héllo wö"), "h é l l o \xE2\x96\x81 w ö");
  EXPECT_EQ(chars->detokenize(chars->tokenize("héllo wö")), "héllo wö");
  auto space = make_tokenizer("space");
  EXPECT_EQ(space->tokenize("  a   b c "), "a b c");
  EXPECT_THROW(make_tokenizer("bpe"), std::invalid_argument);
}

TEST(Tokenizer, SentencePieceTrainsEncodesAndDecodes) {
  std::vector<std::string> lines;
  for (int i = 0; i < 300; ++i) lines.push_back("the quick brown fox " + std::to_string(i % 17) + " jumps over the lazy dog");
  const auto prefix = temp_path("hc_spm_test");
  train_sentencepiece({&lines}, prefix, 60);
  auto spm = make_tokenizer("sentencepiece", prefix + ".model");
  auto pieces = spm->tokenize_lines({"the lazy fox jumps", "over the dog"});
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_GT(split_tokens(pieces[0]).size(), 1u);
  EXPECT_EQ(spm->detokenize_lines(pieces), (std::vector<std::string>{"the lazy fox jumps", "over the dog"}));
}

TEST(Batching, RespectsTheTokenBudgetAndCoversEveryExampleOncePerEpoch) {
  std::mt19937 random(3);
  std::vector<Example> examples(500);
  for (auto& e : examples) {
    e.source.assign(1 + random() % 20, 5);
    e.target.assign(1 + random() % 25, 6);
  }
  const int64_t budget = 120;
  std::vector<std::vector<int64_t>> first_order;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    auto batches = token_budget_batches(examples, budget, 1000 + epoch);
    std::vector<int> seen(examples.size(), 0);
    for (const auto& indices : batches) {
      auto batch = make_batch(examples, indices);
      EXPECT_LE(batch.padded_tokens, budget);
      for (auto i : indices) ++seen[i];
    }
    for (int count : seen) ASSERT_EQ(count, 1);
    if (epoch == 0) first_order = batches;
    else EXPECT_NE(first_order, batches);  // reshuffled
  }
  EXPECT_EQ(token_budget_batches(examples, budget, 7), token_budget_batches(examples, budget, 7));
}

TEST(Batching, TensorsCarryBeginEndAndPadding) {
  std::vector<Example> examples{{{5, 6}, {7}}, {{8}, {9, 10, 11}}};
  auto batch = make_batch(examples, {0, 1});
  EXPECT_TRUE(torch::equal(batch.source, torch::tensor({{5, 6, 2}, {8, 2, 0}}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.target_input, torch::tensor({{1, 7, 0, 0}, {1, 9, 10, 11}}, torch::kLong)));
  EXPECT_TRUE(torch::equal(batch.target_output, torch::tensor({{7, 2, 0, 0}, {9, 10, 11, 2}}, torch::kLong)));
  EXPECT_EQ(batch.target_tokens, 6);
}

}  // namespace
}  // namespace headcount
