// The run folder as a contract (run/run_folder.h): a folder written by the program before
// the contract was typed (tests/fixtures/run-2026-12-07, `headcount train` at commit
// a2791c9; scripts in tests/fixtures/README.md) still reads, and what the types write back
// is what was on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "model/checkpoint.h"
#include "run/run_folder.h"
#include "study/preset.h"
#include "study/results.h"
#include "task/task.h"
#include "test_support.h"
#include "util/durable_file.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

const std::string kFixture = std::string(HEADCOUNT_SOURCE_DIR) + "/tests/fixtures/run-2026-12-07";

TEST(RunFolder, NamesEveryFileOfARunFolder) {
  const RunFolder folder(kFixture);
  const std::set<std::string> named{folder.config(),
                                    folder.metrics(),
                                    folder.summary(),
                                    folder.source_vocabulary(),
                                    folder.target_vocabulary(),
                                    folder.checkpoint(CheckpointChoice::Best),
                                    folder.checkpoint(CheckpointChoice::Last),
                                    previous_path(folder.checkpoint(CheckpointChoice::Last)),
                                    folder.checkpoint(CheckpointChoice::Average),
                                    folder.checkpoint_at_update(20),
                                    folder.lock()};
  for (const auto& entry : fs::directory_iterator(kFixture))
    EXPECT_TRUE(named.count(entry.path().string())) << entry.path() << " has no accessor in RunFolder";
  EXPECT_EQ(folder.best_or_last_checkpoint(), folder.checkpoint(CheckpointChoice::Best));
  EXPECT_EQ(RunFolder("/nowhere").best_or_last_checkpoint(), "");
}

TEST(RunFolder, TheFileNamesAreTheOnDiskFormat) {
  // Renaming any of these would orphan every run folder written so far.
  const RunFolder f("run");
  EXPECT_EQ(f.config(), "run/config.yaml");
  EXPECT_EQ(f.metrics(), "run/metrics.jsonl");
  EXPECT_EQ(f.summary(), "run/summary.json");
  EXPECT_EQ(f.checkpoint(CheckpointChoice::Best), "run/checkpoint_best.pt");
  EXPECT_EQ(f.checkpoint(CheckpointChoice::Last), "run/checkpoint_last.pt");
  EXPECT_EQ(f.checkpoint(CheckpointChoice::Average), "run/checkpoint_average.pt");
  EXPECT_EQ(f.checkpoint_at_update(3000), "run/checkpoint_update3000.pt");
  EXPECT_EQ(f.source_vocabulary(), "run/source.vocab");
  EXPECT_EQ(f.target_vocabulary(), "run/target.vocab");
  EXPECT_EQ(f.labels(), "run/labels.txt");
  EXPECT_EQ(f.sentencepiece_model(PieceModel::Joint), "run/sentencepiece.model");
  EXPECT_EQ(f.sentencepiece_model(PieceModel::Source), "run/sentencepiece.source.model");
  EXPECT_EQ(f.sentencepiece_prefix(PieceModel::Target), "run/sentencepiece.target");
  EXPECT_EQ(f.lock(), "run/lock");
  EXPECT_EQ(f.train_log(), "run/train.log");
  EXPECT_EQ(f.rank_log(2), "run/rank2.log");
  EXPECT_EQ(f.failed_note(), "run/failed.txt");
  EXPECT_EQ(f.killed_note(), "run/killed.txt");
}

TEST(RunSummary, WritesBackSummaryJsonOfAnEarlierRunUnchanged) {
  const RunFolder folder(kFixture);
  const auto text = testing::read_text(folder.summary());
  const auto summary = read_run_summary(folder);
  EXPECT_EQ(summary.status, RunStatus::Finished);
  EXPECT_EQ(summary.updates, 20);
  EXPECT_EQ(summary.best_dev.metric, "wer");
  ASSERT_TRUE(summary.best_dev.value.has_value());
  EXPECT_TRUE(summary.test.contains("wer"));
  EXPECT_EQ(summary.to_json().dump(2) + "\n", text);
  const auto dir = testing::fresh_dir("run_folder", "summary");
  write_run_summary(RunFolder(dir), summary);
  EXPECT_EQ(testing::read_text(RunFolder(dir).summary()), text);
}

TEST(RunSummary, AMissingFieldKeepsItsDefaultAndABadStatusIsRefused) {
  const auto partial = RunSummary::from_json({{"status", "diverged"}, {"diverged_at_update", 7}, {"updates", 7}});
  EXPECT_EQ(partial.status, RunStatus::Diverged);
  EXPECT_EQ(partial.diverged_at_update, 7);
  EXPECT_FALSE(partial.best_dev.value.has_value());
  EXPECT_TRUE(partial.test.is_null());
  try {
    RunSummary::from_json({{"status", "finsihed"}});
    FAIL() << "a misspelt status was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'finsihed'"), std::string::npos) << e.what();
  }
}

TEST(RunStatus, EveryStatusHasOneNameThatReadsBack) {
  std::set<std::string> names;
  for (auto status : {RunStatus::Running, RunStatus::Finished, RunStatus::Diverged, RunStatus::Interrupted,
                      RunStatus::Failed, RunStatus::Unfinished, RunStatus::NotStarted, RunStatus::Skipped}) {
    const auto name = to_string(status);
    EXPECT_NE(name, "?");
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(parse_run_status(name), status);
  }
  EXPECT_TRUE(trained_to_end(RunStatus::Finished));
  EXPECT_TRUE(trained_to_end(RunStatus::Diverged));
  EXPECT_FALSE(trained_to_end(RunStatus::Interrupted));
  EXPECT_FALSE(trained_to_end(RunStatus::Failed));
}

TEST(RunFolder, RecordedStatusIsNoneWithoutAReadableSummary) {
  EXPECT_EQ(recorded_status(RunFolder(kFixture)), RunStatus::Finished);
  const auto dir = testing::fresh_dir("run_folder", "status");
  EXPECT_FALSE(recorded_status(RunFolder(dir)).has_value());
  write_file_atomically(RunFolder(dir).summary(), "{\"status\": ");
  EXPECT_FALSE(recorded_status(RunFolder(dir)).has_value());
}

TEST(RunFolder, AStudyReadsAnEarlierRunFolderIntoItsRow) {
  GridRun run;
  run.name = "1L-2H-admin-s1";
  run.heads = 2;
  run.seed = 1;
  run.scheme = ResidualScheme::Admin;
  run.config = load_config(RunFolder(kFixture).config(), {});
  const MetricInfo wer{"wer", "WER", true};
  const auto row = read_run_row(run, kFixture, wer);
  const auto summary = read_run_summary(RunFolder(kFixture));
  EXPECT_EQ(row.status, RunStatus::Finished);
  EXPECT_TRUE(row.has_summary);
  EXPECT_EQ(row.updates, 20);
  ASSERT_TRUE(row.test_metric.has_value());
  EXPECT_EQ(*row.test_metric, summary.test.at("wer").get<double>());
  int dev_lines = 0;
  for (const auto& line : read_metrics(RunFolder(kFixture).metrics())) dev_lines += line.value("kind", "") == "dev";
  EXPECT_EQ(static_cast<int>(row.dev_curve.size()), dev_lines);
  EXPECT_GT(dev_lines, 0);
  // Its checkpoint still loads, with the config the summary describes.
  const auto loaded = load_checkpoint(RunFolder(kFixture).checkpoint(CheckpointChoice::Best));
  EXPECT_EQ(loaded.model->config().encoder.layers, summary.encoder_layers);
}

}  // namespace
}  // namespace headcount
