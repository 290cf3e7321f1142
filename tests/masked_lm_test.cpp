// Masked-LM pretraining: the masking rule's proportions, what is never masked, packing, and
// the task end to end (a stopped run resumes with the same losses).
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "data/parallel_text.h"
#include "data/vocabulary.h"
#include "model/checkpoint.h"
#include "task/masked_lm_task.h"
#include "task/masking.h"
#include "test_support.h"
#include "run/run_folder.h"
#include "train/trainer.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

MaskingOptions options_for(int64_t vocabulary) {
  MaskingOptions o;
  o.vocabulary_size = vocabulary;
  o.mask_index = vocabulary - 1;
  return o;
}

// <s> ordinary tokens </s> padded... as a sequence of the given length (specials included).
std::vector<int64_t> random_sequence(std::mt19937& random, int64_t length, int64_t vocabulary) {
  std::vector<int64_t> tokens{Vocabulary::kBegin};
  std::uniform_int_distribution<int64_t> ordinary(4, vocabulary - 2);
  for (int64_t i = 0; i < length - 2; ++i) tokens.push_back(ordinary(random));
  tokens.push_back(Vocabulary::kEnd);
  return tokens;
}

TEST(Masking, ChoosesFifteenPercentAndSplitsThemEightyTenTen) {
  const int64_t vocabulary = 1000;
  const auto o = options_for(vocabulary);
  std::mt19937 random(1);
  int64_t ordinary = 0, chosen = 0, masked = 0, replaced = 0, kept = 0;
  for (int64_t s = 0; s < 4000; ++s) {
    const auto tokens = random_sequence(random, 20 + s % 100, vocabulary);
    const auto m = mask_sequence(tokens, {}, o, masking_seed(7, 0, s));
    ordinary += static_cast<int64_t>(tokens.size()) - 2;
    chosen += static_cast<int64_t>(m.positions.size());
    ASSERT_EQ(m.positions.size(), m.targets.size());
    for (size_t k = 0; k < m.positions.size(); ++k) {
      const int64_t p = m.positions[k];
      EXPECT_EQ(m.targets[k], tokens[p]);
      if (m.tokens[p] == o.mask_index) ++masked;
      else if (m.tokens[p] == tokens[p]) ++kept;
      else ++replaced;
      EXPECT_GE(m.tokens[p], 4);  // a random replacement is an ordinary token
    }
    for (size_t p = 0; p < tokens.size(); ++p)
      if (!std::binary_search(m.positions.begin(), m.positions.end(), static_cast<int64_t>(p))) {
        ASSERT_EQ(m.tokens[p], tokens[p]);  // nothing else changes
      }
  }
  // Over 4,000 sequences (about 270,000 tokens) the shares sit within a few tenths of a
  // percent of the rule; a random replacement that happens to draw the same token counts as kept.
  EXPECT_NEAR(static_cast<double>(chosen) / ordinary, 0.15, 0.005);
  EXPECT_NEAR(static_cast<double>(masked) / chosen, 0.80, 0.01);
  EXPECT_NEAR(static_cast<double>(replaced) / chosen, 0.10, 0.01);
  EXPECT_NEAR(static_cast<double>(kept) / chosen, 0.10, 0.01);
}

TEST(Masking, SpecialTokensAndPaddingAreNeverChosen) {
  const auto o = options_for(50);
  // Padding, <s>, </s> and <unk> (0-3) mixed into the sequence; the rule may take only 4 and up.
  const std::vector<int64_t> tokens{1, 5, 0, 6, 3, 7, 2, 8, 0, 0, 9, 2};
  for (uint64_t seed = 0; seed < 2000; ++seed)
    for (int64_t p : mask_sequence(tokens, {}, o, seed).positions) ASSERT_GE(tokens[p], 4) << "seed " << seed;
  // A sequence without ordinary tokens predicts nothing.
  EXPECT_TRUE(mask_sequence({1, 2}, {}, o, 3).positions.empty());
}

TEST(Masking, WholeWordsAreChosenWithAllTheirPieces) {
  auto o = options_for(50);
  o.whole_words = true;
  o.mask_probability = 0.3;
  // <s> [5 6 7] [8] [9 10] [11 12 13 14] </s>: a word starts at 5, 8, 9 and 11.
  const std::vector<int64_t> tokens{1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 2};
  const std::vector<bool> starts{false, true, false, false, true, true, false, true, false, false, false, false};
  const std::vector<std::vector<int64_t>> words{{1, 2, 3}, {4}, {5, 6}, {7, 8, 9, 10}};
  for (uint64_t seed = 0; seed < 500; ++seed) {
    const auto m = mask_sequence(tokens, starts, o, seed);
    for (const auto& word : words) {
      const auto in = [&](int64_t p) { return std::binary_search(m.positions.begin(), m.positions.end(), p); };
      const bool first = in(word.front());
      for (int64_t p : word) ASSERT_EQ(in(p), first) << "seed " << seed << ": a word split";
    }
  }
}

TEST(Masking, SameSeedSameMaskNewEpochNewMask) {
  const auto o = options_for(100);
  std::mt19937 random(2);
  const auto tokens = random_sequence(random, 60, 100);
  const auto a = mask_sequence(tokens, {}, o, masking_seed(1, 0, 5));
  EXPECT_EQ(a.tokens, mask_sequence(tokens, {}, o, masking_seed(1, 0, 5)).tokens);
  EXPECT_NE(a.positions, mask_sequence(tokens, {}, o, masking_seed(1, 1, 5)).positions);
  EXPECT_NE(a.positions, mask_sequence(tokens, {}, o, masking_seed(1, 0, 6)).positions);
}

TEST(MaskedLm, PackingKeepsEveryCorpusTokenExactlyOnceInDocumentOrder) {
  std::mt19937 random(4);
  std::vector<std::vector<int64_t>> documents;
  for (int d = 0; d < 30; ++d) {
    std::vector<int64_t> document(1 + random() % 90);
    for (auto& t : document) t = 4 + random() % 500;
    documents.push_back(document);
  }
  const int64_t max_length = 16;
  const auto sequences = pack_documents(documents, max_length);
  std::vector<int64_t> all, packed;
  for (const auto& d : documents) all.insert(all.end(), d.begin(), d.end());
  size_t document = 0, used = 0;
  for (const auto& s : sequences) {
    ASSERT_LE(static_cast<int64_t>(s.size()), max_length);
    ASSERT_GE(s.size(), 3u);
    EXPECT_EQ(s.front(), Vocabulary::kBegin);
    EXPECT_EQ(s.back(), Vocabulary::kEnd);
    packed.insert(packed.end(), s.begin() + 1, s.end() - 1);
    // No sequence crosses a document boundary.
    used += s.size() - 2;
    ASSERT_LE(used, documents[document].size());
    if (used == documents[document].size()) ++document, used = 0;
  }
  EXPECT_EQ(document, documents.size());
  EXPECT_EQ(packed, all);
}

// A small corpus of numbered "documents" in fairseq's raw layout.
std::string write_corpus(const std::string& name) {
  const auto dir = fs::temp_directory_path() / fmt::format("hc_mlm_{}_{}", name, getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 random(11);
  const std::vector<std::string> words{"the", "union", "state", "of", "congress", "people", "nation", "law",
                                       "year", "war", "peace", "trade", "public", "great", "new", "world"};
  for (auto [split, documents] : {std::pair{"train", 40}, std::pair{"valid", 6}, std::pair{"test", 6}}) {
    std::ofstream out(dir / (std::string(split) + ".txt"));
    for (int d = 0; d < documents; ++d) {
      for (int line = 0; line < 3 + static_cast<int>(random() % 4); ++line) {
        for (int w = 0; w < 5 + static_cast<int>(random() % 10); ++w) out << (w ? " " : "") << words[random() % words.size()];
        out << ".\n";
      }
      out << "\n";
    }
  }
  return dir.string();
}

RunConfig corpus_config(const std::string& corpus, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides{"model.architecture=encoder", "model.d_model=16", "model.encoder.layers=2",
                                     "model.encoder.heads=2", "model.encoder.ffn_dim=32", "model.dropout=0.1",
                                     "model.max_positions=40", "model.residual=admin", "data.task=masked-lm",
                                     "data.train_file=" + corpus + "/train.txt", "data.valid_file=" + corpus + "/valid.txt",
                                     "data.test_file=" + corpus + "/test.txt", "data.vocab_size=40", "data.max_length=24",
                                     "data.max_tokens=200", "train.optimizer=radam", "train.lr=0.003",
                                     "train.warmup_updates=4", "train.label_smoothing=0", "train.max_updates=12",
                                     "train.log_every=1", "train.valid_every=4"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config("", overrides);
}

using testing::train_losses;

TEST(MaskedLm, ResumedRunRepeatsTheUninterruptedLossesAndReportsPerplexity) {
  const auto corpus = write_corpus("resume");
  const auto config = corpus_config(corpus);
  const auto whole = fs::temp_directory_path() / fmt::format("hc_mlm_whole_{}", getpid());
  const auto split = fs::temp_directory_path() / fmt::format("hc_mlm_split_{}", getpid());
  fs::remove_all(whole), fs::remove_all(split);
  std::ostringstream log;
  auto summary = train({config, whole.string(), false, 0}, log);
  ASSERT_EQ(summary.at("status"), "finished") << log.str();
  EXPECT_EQ(train({config, split.string(), false, 6}, log).at("status"), "interrupted");
  EXPECT_EQ(train({config, split.string(), true, 0}, log).at("status"), "finished");
  const auto a = train_losses(whole.string()), b = train_losses(split.string());
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << "update " << i + 1;
  // Dev and test report the masked-LM metrics; perplexity is exp of the nll per predicted token.
  const auto& test = summary.at("test");
  EXPECT_NEAR(test.at("perplexity").get<double>(), std::exp(test.at("nll").get<double>()), 1e-9);
  EXPECT_GT(test.at("tokens").get<int64_t>(), 0);
  EXPECT_GE(test.at("accuracy").get<double>(), 0.0);
  EXPECT_LE(test.at("accuracy").get<double>(), 100.0);
  EXPECT_EQ(summary.at("best_dev").at("metric"), "perplexity");
  EXPECT_EQ(summary.at("admin_profile").at("encoder").size(), 4u);  // 2 layers x (attention, FFN)
  // The vocabulary ends with <mask>, and the model's output projection is its embedding table.
  const auto vocabulary = Vocabulary::load((whole / "source.vocab").string());
  EXPECT_EQ(vocabulary.token(vocabulary.size() - 1), "<mask>");
  const auto model = load_checkpoint((whole / "checkpoint_best.pt").string()).model;
  EXPECT_EQ(model->config().head, Head::MaskedLm);
  EXPECT_TRUE(model->output_weight.is_same(model->source_embedding->weight));
}

TEST(MaskedLm, EveryTrainingTokenIsInExactlyOneSequence) {
  const auto corpus = write_corpus("tokens");
  const auto config = corpus_config(corpus);
  const auto dir = fs::temp_directory_path() / fmt::format("hc_mlm_tokens_run_{}", getpid());
  fs::remove_all(dir);
  MaskedLmTask task(config, Runtime{});
  task.load(dir.string(), /*create=*/true);
  // Re-tokenize the corpus the way a user would and count pieces.
  int64_t in_sequences = 0;
  for (const auto& s : task.sequences(Split::Train)) {
    ASSERT_LE(static_cast<int64_t>(s.size()), config.data.max_length);
    in_sequences += static_cast<int64_t>(s.size()) - 2;
  }
  auto tokenizer = make_tokenizer("sentencepiece", (dir / "sentencepiece.model").string());
  std::vector<std::string> lines;
  for (const auto& line : read_lines(corpus + "/train.txt"))
    if (!line.empty()) lines.push_back(line);
  int64_t pieces = 0;
  for (const auto& p : tokenizer->tokenize_lines(lines)) pieces += static_cast<int64_t>(split_tokens(p).size());
  EXPECT_EQ(in_sequences, pieces);
}

TEST(MaskedLm, SeveralTrainingFilesAreOneCorpusEachEndingADocument) {
  const auto corpus = write_corpus("files");
  // The training file cut in two in mid-document, and the second half without a final
  // blank line: read as a list, the cut ends a document, so the sequences are those of the
  // whole file with a blank line added at the cut.
  const auto lines = read_lines(corpus + "/train.txt");
  size_t cut = lines.size() / 2;
  while (lines[cut - 1].empty() || lines[cut].empty()) ++cut;
  std::ofstream first(corpus + "/first.txt"), second(corpus + "/second.txt"), joined(corpus + "/joined.txt");
  for (size_t i = 0; i < lines.size(); ++i) {
    (i < cut ? first : second) << lines[i] << (i + 1 < lines.size() ? "\n" : "");
    joined << lines[i] << "\n" << (i + 1 == cut ? "\n" : "");
  }
  first.close(), second.close(), joined.close();
  const auto dir = fs::temp_directory_path() / fmt::format("hc_mlm_files_run_{}", getpid());
  fs::remove_all(dir);
  MaskedLmTask listed(corpus_config(corpus, {"data.train_file=" + corpus + "/first.txt," + corpus + "/second.txt"}),
                      Runtime{});
  listed.load(dir.string(), /*create=*/true);
  MaskedLmTask whole(corpus_config(corpus, {"data.train_file=" + corpus + "/joined.txt"}), Runtime{});
  whole.load(dir.string(), /*create=*/false);  // the same vocabulary
  EXPECT_EQ(listed.sequences(Split::Train), whole.sequences(Split::Train));
  // The cut fell inside a document, so the list has one sequence boundary more than the
  // original file read whole.
  MaskedLmTask original(corpus_config(corpus), Runtime{});
  original.load(dir.string(), /*create=*/false);
  EXPECT_GT(listed.sequences(Split::Train).size(), 0u);
  EXPECT_NE(listed.sequences(Split::Train), original.sequences(Split::Train));
}

}  // namespace
}  // namespace headcount
