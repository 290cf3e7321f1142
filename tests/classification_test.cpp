// Classification fine-tuning: GLUE's file layouts, the metrics GLUE reports (against worked
// examples), and a classifier started from a masked-LM run holding exactly its encoder.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "data/parallel_text.h"
#include "eval/classification_metrics.h"
#include "model/checkpoint.h"
#include "task/classification_task.h"
#include "task/labelled_text.h"
#include "test_support.h"
#include "run/run_folder.h"
#include "train/trainer.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) { return testing::fresh_dir("hc_cls", name); }

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const auto path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

DataConfig glue(const std::string& task) {
  DataConfig d;
  d.glue_task = task;
  return d;
}

TEST(Glue, EachTaskLayoutReadsItsColumns) {
  const auto dir = temp_dir("layouts");
  struct Case {
    std::string task, text, first, second, label;
  };
  const std::vector<Case> cases{
      {"cola", "gj04\t1\t\tOur friends won't buy this analysis.\n", "Our friends won't buy this analysis.", "", "1"},
      {"sst2", "sentence\tlabel\nhide new secretions \t0\n", "hide new secretions ", "", "0"},
      {"mrpc", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused.\tHe called him.\n",
       "Amrozi accused.", "He called him.", "1"},
      {"qqp", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n133273\t213221\t213222\tHow?\tWhy?\t0\n", "How?", "Why?", "0"},
      {"stsb",
       "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
       "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n",
       "A plane is taking off.", "An air plane is taking off.", "5.000"},
      {"mnli",
       "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n"
       "0\t31193\t31193n\tgovernment\t(x)\t(y)\t(x)\t(y)\tConceptually cream.\tProduct and geography.\tneutral\tneutral\n",
       "Conceptually cream.", "Product and geography.", "neutral"},
      {"qnli", "index\tquestion\tsentence\tlabel\n0\tWhat came?\tMany came.\tnot_entailment\n", "What came?", "Many came.",
       "not_entailment"},
      {"rte", "index\tsentence1\tsentence2\tlabel\n0\tNo weapons.\tWeapons found.\tnot_entailment\n", "No weapons.",
       "Weapons found.", "not_entailment"},
      {"wnli", "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin.\tThe pin had a hole.\t1\n", "I stuck a pin.",
       "The pin had a hole.", "1"},
  };
  for (const auto& c : cases) {
    const auto path = write(dir, c.task + ".tsv", c.text);
    const auto file = read_labelled_tsv(path, tsv_layout(glue(c.task)), glue(c.task));
    ASSERT_EQ(file.rows.size(), 1u) << c.task;
    EXPECT_EQ(file.rows[0].first, c.first) << c.task;
    EXPECT_EQ(file.rows[0].second, c.second) << c.task;
    EXPECT_EQ(file.rows[0].label, c.label) << c.task;
  }
  // MNLI's dev files carry the gold label in their last column (16 of them), not the 12th.
  const auto dev = write(dir, "mnli_dev.tsv",
                         "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\tsentence2\tl1\tl2\tl3\tl4\tl5\tgold_label\n"
                         "0\t1\t1n\tfiction\t(x)\t(y)\t(x)\t(y)\tA.\tB.\tneutral\tentailment\tneutral\tneutral\tneutral\tcontradiction\n");
  EXPECT_EQ(read_labelled_tsv(dev, tsv_layout(glue("mnli")), glue("mnli")).rows.at(0).label, "contradiction");
}

TEST(Glue, BadRowsNameTheFileAndLine) {
  const auto dir = temp_dir("bad");
  const auto path = write(dir, "rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two\n");
  try {
    read_labelled_tsv(path, tsv_layout(glue("rte")), glue("rte"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3: expected at least 4 tab-separated fields (rte layout), found 2"),
              std::string::npos)
        << e.what();
  }
  // QQP's short rows are skipped (and counted), as the GLUE preprocessing scripts do.
  const auto qqp = write(dir, "qqp.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\ta\tb\t1\n4\t5\tbroken\n");
  const auto file = read_labelled_tsv(qqp, tsv_layout(glue("qqp")), glue("qqp"));
  EXPECT_EQ(file.rows.size(), 1u);
  EXPECT_EQ(file.skipped, 1);
  // Named columns: a missing one is named with the header's columns.
  DataConfig named;
  named.sentence1_column = "text";
  const auto tsv = write(dir, "named.tsv", "sentence\tlabel\nhello\tham\n");
  try {
    read_labelled_tsv(tsv, tsv_layout(named), named);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(tsv + ":1: no column 'text' (data.sentence1_column) in the header; its columns: "
                                               "sentence, label"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tsv_layout(glue("glue")), std::invalid_argument);
}

TEST(ClassificationMetrics, WorkedExamples) {
  // 10 predictions of a binary task: TP 3, FP 1, FN 2, TN 4.
  const std::vector<int64_t> labels{1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, predicted{1, 1, 1, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(accuracy(predicted, labels), 0.7);
  EXPECT_DOUBLE_EQ(f1_score(predicted, labels, 1), 2.0 * 3 / (2 * 3 + 1 + 2));        // 0.6667
  EXPECT_DOUBLE_EQ(f1_score(predicted, labels, 0), 2.0 * 4 / (2 * 4 + 2 + 1));        // 0.7273
  EXPECT_NEAR(matthews_correlation(predicted, labels, 2), (3.0 * 4 - 1 * 2) / std::sqrt(4.0 * 5 * 5 * 6), 1e-12);
  EXPECT_DOUBLE_EQ(matthews_correlation({1, 1, 1}, {1, 0, 1}, 2), 0.0);  // a constant prediction: 0, as scikit-learn
  // Three classes, Gorodkin's R_K (scikit-learn's multiclass MCC): c = 3 right of s = 6;
  // predicted 3/2/1 and true 2/3/1 per class: (3*6 - (6+6+1)) / sqrt((36-14)(36-14)) = 5/22.
  EXPECT_NEAR(matthews_correlation({0, 2, 1, 0, 0, 1}, {0, 1, 2, 0, 1, 1}, 3), 5.0 / 22.0, 1e-12);
  const std::vector<double> x{1, 2, 3, 4, 5}, y{2, 1, 4, 3, 5};
  EXPECT_NEAR(pearson_correlation(x, y), 0.8, 1e-12);
  EXPECT_NEAR(spearman_correlation(x, y), 0.8, 1e-12);
  // Ties share their average rank: 1, 2.5, 2.5, 4 against 1, 2, 3, 4 gives 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  EXPECT_EQ(average_ranks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
  EXPECT_NEAR(spearman_correlation({10, 20, 20, 30}, {1, 2, 3, 4}), 3.0 / std::sqrt(10.0), 1e-12);
}


const std::vector<std::string> kModel{"model.architecture=encoder", "model.d_model=16", "model.encoder.layers=2",
                                      "model.encoder.heads=2",      "model.encoder.ffn_dim=32", "model.dropout=0.1",
                                      "model.learned_positions=true", "model.max_positions=40", "model.residual=admin"};

RunConfig config_with(std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), kModel.begin(), kModel.end());
  return load_config("", overrides);
}

TEST(Classification, ClassifierFromAPretrainingRunHoldsExactlyItsEncoder) {
  const auto dir = testing::write_sentiment_task(temp_dir("pretrained"));
  const auto pretraining = dir + "/mlm", fine_tuned = dir + "/classifier";
  std::ostringstream log;
  const auto mlm = config_with({"data.task=masked-lm", "data.train_file=" + dir + "/corpus.txt",
                                "data.valid_file=" + dir + "/corpus.txt", "data.vocab_size=30", "data.max_length=24",
                                "data.max_tokens=200", "train.max_updates=6", "train.valid_every=6", "train.warmup_updates=2"});
  ASSERT_EQ(train({mlm, pretraining, false, 0}, log).at("status"), "finished") << log.str();

  const auto classify = config_with({"data.task=classification", "data.train_file=" + dir + "/train.tsv",
                                     "data.valid_file=" + dir + "/dev.tsv", "data.test_file=" + dir + "/test.tsv",
                                     "data.max_length=24", "data.max_tokens=200", "train.init_from=" + pretraining,
                                     "train.max_updates=4", "train.valid_every=4", "train.optimizer=adam",
                                     "train.lr=1e-30", "train.warmup_updates=0"});
  const auto summary = train({classify, fine_tuned, false, 0}, log);
  ASSERT_EQ(summary.at("status"), "finished") << log.str();
  EXPECT_NE(log.str().find("encoder initialised from " + pretraining + "/checkpoint_best.pt"), std::string::npos);
  for (const char* name : {"sentencepiece.model", "source.vocab"})
    EXPECT_EQ(testing::read_text(pretraining + "/" + name), testing::read_text(fine_tuned + "/" + name)) << name;
  EXPECT_EQ(testing::read_text(fine_tuned + "/labels.txt"), "neg\npos\n");
  // With a learning rate of 1e-30 (no float32 weight moves) the classifier's encoder is the pretrained one, bit for bit;
  // the heads are each its own.
  const auto from = load_checkpoint(pretraining + "/checkpoint_best.pt").model;
  const auto to = load_checkpoint(fine_tuned + "/checkpoint_last.pt").model;
  const auto source = from->named_parameters();
  int64_t compared = 0;
  for (const auto& item : to->named_parameters()) {
    if (item.key().rfind("classification_head.", 0) == 0) continue;
    ASSERT_TRUE(source.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), source[item.key()])) << item.key();
    ++compared;
  }
  // Every parameter but the LM head's five (dense weight and bias, LayerNorm gain and bias, output bias).
  EXPECT_EQ(compared, static_cast<int64_t>(from->named_parameters().size()) - 5);
  EXPECT_EQ(to->config().head, Head::Classification);
  EXPECT_EQ(to->config().classes, 2);
  // A different encoder is refused with the key that differs.
  auto other = classify;
  other.model.encoder.layers = 3;
  try {
    train({other, dir + "/refused", false, 0}, log);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.encoder.layers: the pretrained model has 2, this one 3"), std::string::npos)
        << e.what();
  }
}

TEST(Classification, LearnsAnEasyTaskFromScratchAndPredictsLabels) {
  const auto dir = testing::write_sentiment_task(temp_dir("scratch"));
  const auto config = config_with({"data.task=classification", "data.train_file=" + dir + "/train.tsv",
                                   "data.valid_file=" + dir + "/dev.tsv", "data.test_file=" + dir + "/test.tsv",
                                   "data.vocab_size=30", "data.max_length=24", "data.max_tokens=200",
                                   "data.positive_label=pos", "data.metric=f1", "train.lr=0.003",
                                   "train.warmup_updates=5", "train.max_updates=120", "train.valid_every=40"});
  std::ostringstream log;
  const auto summary = train({config, dir + "/run", false, 0}, log);
  ASSERT_EQ(summary.at("status"), "finished") << log.str();
  const auto& test = summary.at("test");
  for (const char* key : {"accuracy", "f1", "mcc", "loss", "examples"}) EXPECT_TRUE(test.contains(key)) << key;
  EXPECT_EQ(summary.at("best_dev").at("metric"), "f1");
  // The word in position 4 decides the label: an easy task, learned well above chance.
  EXPECT_GT(test.at("accuracy").get<double>(), 80.0) << log.str();
  // predict labels the test sentences as the evaluation did: the same accuracy.
  ClassificationTask task(config, Runtime{});
  task.load_for_prediction(dir + "/run");
  auto model = load_checkpoint(dir + "/run/checkpoint_best.pt").model;
  std::vector<std::string> lines, labels;
  for (const auto& line : read_lines(dir + "/test.tsv")) {
    const auto tab = line.find('\t');
    if (line.rfind("sentence\t", 0) == 0) continue;
    lines.push_back(line.substr(0, tab)), labels.push_back(line.substr(tab + 1));
  }
  const auto out = task.predict(model, lines, 1);
  ASSERT_EQ(out.size(), lines.size());
  int64_t right = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto tab = out[i].find('\t');
    ASSERT_NE(tab, std::string::npos) << out[i];
    const double probability = std::stod(out[i].substr(tab + 1));
    EXPECT_GE(probability, 0.5);  // the chosen of two classes
    EXPECT_LE(probability, 1.0);
    right += out[i].substr(0, tab) == labels[i];
  }
  EXPECT_NEAR(100.0 * right / out.size(), test.at("accuracy").get<double>(), 1e-9);
}

}  // namespace
}  // namespace headcount
