// The study as one command: a tiny grid end to end, resuming, and a diverged run.
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "study/compare.h"
#include "study/findings.h"
#include "study/report.h"
#include "test_support.h"
#include "run/run_folder.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

// A tiny reverse-the-letters corpus and a preset around a 2-layer, 2-head model.
std::string write_tiny_preset(const std::string& name, const std::string& extra_set) {
  const auto dir = fs::temp_directory_path() / ("hc_compare_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 random(9);
  for (auto [split, lines] : {std::pair{"train", 200}, std::pair{"valid", 20}, std::pair{"test", 20}}) {
    std::ofstream source(dir / (std::string(split) + ".src")), target(dir / (std::string(split) + ".tgt"));
    for (int i = 0; i < lines; ++i) {
      std::vector<char> tokens(2 + random() % 5);
      for (auto& t : tokens) t = static_cast<char>('a' + random() % 6);
      for (size_t j = 0; j < tokens.size(); ++j) source << (j ? " " : "") << tokens[j];
      for (size_t j = tokens.size(); j-- > 0;) target << tokens[j] << (j ? " " : "");
      source << "\n", target << "\n";
    }
  }
  const auto d = dir.string();
  std::ofstream(dir / "task.yaml") << "model:\n  d_model: 16\n  max_positions: 64\n  dropout: 0.0\n"
                                   << "  encoder: {layers: 2, heads: 2, ffn_dim: 32}\n  decoder: {layers: 2, heads: 2, ffn_dim: 32}\n"
                                   << "data:\n  task: parallel\n  train_prefix: " << d << "/train\n  valid_prefix: " << d
                                   << "/valid\n  test_prefix: " << d << "/test\n  max_tokens: 200\n  max_length: 40\n"
                                   << "train:\n  lr: 0.003\n  warmup_updates: 4\n  max_updates: 8\n  log_every: 2\n"
                                   << "  valid_every: 4\n  valid_decode_limit: 10\neval:\n  beam: 2\n  max_length_b: 10\n";
  std::ofstream(dir / "preset.yaml") << "description: tiny test grid\nconfig: " << d << "/task.yaml\nheads: [1]\n"
                                     << "schemes: [post-ln, admin]\nseeds: 1\n"
                                     << "inference: {batch_sizes: [1, 4], lengths: [5], repeats: 2}\n"
                                     << "set: {train.seed: 3" << extra_set << "}\n";
  return d;
}

CompareRequest request_for(const std::string& dir) {
  CompareRequest request;
  request.preset = dir + "/preset.yaml";
  request.out = dir + "/study";
  request.program = HEADCOUNT_BINARY;
  request.threads = 1;
  request.command_line = "compare (test)";
  return request;
}

TEST(Compare, TinyGridRunsEndToEndIntoAReport) {
  const auto dir = write_tiny_preset("grid", "");
  std::ostringstream log;
  auto results = compare(request_for(dir), log);
  ASSERT_EQ(results["runs"].size(), 4u) << log.str();
  std::set<std::string> names;
  for (const auto& run : results["runs"]) {
    EXPECT_EQ(run["status"], "finished") << run.dump();
    EXPECT_TRUE(run.contains("test_metric"));
    EXPECT_EQ(run["dev_curve"].size(), 2u);
    names.insert(run["name"]);
  }
  EXPECT_EQ(names, (std::set<std::string>{"2L-2H-post-ln-s3", "2L-2H-admin-s3", "4L-1H-post-ln-s3", "4L-1H-admin-s3"}));
  // The deep model is the reshaped one: 4 single-head layers, FFN 16, same weights budget.
  const auto deep = load_config(dir + "/study/configs/4L-1H-admin-s3.yaml", {});
  EXPECT_EQ(deep.model.encoder.ffn_dim, 16);
  EXPECT_EQ(deep.model.encoder.head_dim, 8);
  ASSERT_EQ(results["inference"].size(), 4u);  // 2 architectures x 2 batch sizes x 1 length
  // Grouped by architecture, shallow first; the speeds follow from the median time (the
  // tiny config decodes all 5 steps).
  const std::vector<std::pair<std::string, int64_t>> rows{{"2L-2H", 1}, {"2L-2H", 4}, {"4L-1H", 1}, {"4L-1H", 4}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& t = results["inference"][i];
    EXPECT_EQ(t["architecture"], rows[i].first);
    EXPECT_EQ(t["batch"], rows[i].second);
    ASSERT_GT(t["median_ms"].get<double>(), 0);
    EXPECT_NEAR(t["sentences_per_s"].get<double>(), 1000.0 * rows[i].second / t["median_ms"].get<double>(), 1e-6);
    EXPECT_NEAR(t["tokens_per_s"].get<double>(), 5 * t["sentences_per_s"].get<double>(), 1e-6);
  }
  const auto report = testing::read_text(dir + "/study/report.md");
  for (const char* part : {"## Findings", "## Runs", "## Means over seeds", "## Inference speed", "## Figures",
                           "4L-1H-admin-s3", "vs shallow 2L-2H", "dev_loss.svg", "gain_vs_heads.svg",
                           "inference_speed.svg", "dev_metric_time.svg", "## Positions attended (RQ1)",
                           "Positions attended (RQ1), encoder: through the stack", "attention_rollout.svg",
                           "attention_layers.svg"})
    EXPECT_NE(report.find(part), std::string::npos) << part;
  // RQ1: one analysed run per architecture, its layers and rollout in results.json.
  ASSERT_EQ(results["attention"].size(), 2u);
  EXPECT_EQ(results["attention"][0]["architecture"], "2L-2H");
  EXPECT_EQ(results["attention"][1]["analysis"]["rollout"].size(), 4u + 4u);  // 4 encoder and 4 decoder layers
  for (const char* figure : {"dev_loss", "dev_metric_time", "gain_vs_heads", "inference_speed"}) {
    EXPECT_TRUE(fs::exists(dir + "/study/figures/" + figure + ".gp")) << figure;
    EXPECT_NE(testing::read_text(dir + "/study/figures/" + figure + ".svg").find("<svg"), std::string::npos) << figure;
  }
  EXPECT_EQ(read_json_file(dir + "/study/results.json")["runs"].size(), 4u);
  // One key entry per (architecture, scheme), coloured by scheme; gains with their spread,
  // anchored at the shallow model's own 1x.
  const auto dev_loss = testing::read_text(dir + "/study/figures/dev_loss.gp");
  EXPECT_NE(dev_loss.find("'data/4L-1H-admin-s3.dev.dat' using 1:2 with linespoints lc 2 dt 2 pt 7 title '4L-1H admin'"),
            std::string::npos)
      << dev_loss;
  EXPECT_NE(testing::read_text(dir + "/study/figures/gain_vs_heads.gp").find("using 1:2:3 with yerrorlines"), std::string::npos);
  EXPECT_NE(testing::read_text(dir + "/study/figures/data/gain_admin.dat").find("\n1 0 0 0\n2 "), std::string::npos);
}

// A grid trained in bf16 runs end to end, its inference timed under its precision (the
// timings cannot show whether the products ran in bf16; this checks the path runs): every
// run finishes, the runs' configs say bf16, and the inference rows are there for both
// architectures.
TEST(Compare, Bf16GridTimesItsInferenceInItsPrecision) {
  const auto dir = write_tiny_preset("bf16", ", train.precision: bf16");
  std::ostringstream log;
  const auto results = compare(request_for(dir), log);
  ASSERT_EQ(results["runs"].size(), 4u) << log.str();
  for (const auto& run : results["runs"]) EXPECT_EQ(run["status"], "finished") << run.dump();
  EXPECT_EQ(load_config(dir + "/study/configs/4L-1H-admin-s3.yaml", {}).train.precision, Precision::Bf16);
  ASSERT_EQ(results["inference"].size(), 4u) << log.str();
  for (const auto& row : results["inference"]) EXPECT_GT(row["tokens_per_s"].get<double>(), 0) << row.dump();
}

TEST(Compare, InterruptedCompareResumesWithoutRedoingFinishedRuns) {
  const auto dir = write_tiny_preset("resume", "");
  auto request = request_for(dir);
  request.max_runs = 1;
  std::ostringstream log;
  auto partial = compare(request, log);
  EXPECT_FALSE(partial["complete"].get<bool>());
  const auto first = dir + "/study/runs/2L-2H-post-ln-s3/summary.json";
  ASSERT_TRUE(fs::exists(first));
  const auto written = fs::last_write_time(first);
  EXPECT_NE(testing::read_text(dir + "/study/report.md").find("Incomplete"), std::string::npos);
  EXPECT_NE(testing::read_text(dir + "/study/report.md").find("1 of 4 runs trained so far"), std::string::npos);
  EXPECT_EQ(testing::read_text(dir + "/study/report.md").find("did not finish"), std::string::npos);  // untrained is not failed
  int64_t not_started = 0;
  for (const auto& run : partial["runs"]) not_started += run["status"] == "not started";
  EXPECT_EQ(not_started, 3);

  // A run that has logged but not ended (its process stopped with the machine).
  fs::create_directories(dir + "/study/runs/2L-2H-admin-s3");
  std::ofstream(dir + "/study/runs/2L-2H-admin-s3/metrics.jsonl");
  request.max_runs = 0;  // report only: nothing more is trained
  auto again = compare(request, log);
  EXPECT_FALSE(again["complete"].get<bool>());
  for (const auto& run : again["runs"])
    if (run["name"] == "2L-2H-admin-s3") {
      EXPECT_EQ(run["status"], "unfinished");
    }
  EXPECT_NE(testing::read_text(dir + "/study/report.md").find("1 of 4 runs trained so far"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/study/runs/2L-2H-admin-s3/summary.json"));
  EXPECT_EQ(fs::last_write_time(first), written);

  request.max_runs = -1;
  request.jobs = 2;  // the other three runs, two at a time
  auto full = compare(request, log);
  EXPECT_TRUE(full["complete"].get<bool>());
  EXPECT_EQ(fs::last_write_time(first), written);  // not trained again
  EXPECT_NE(log.str().find("2L-2H-post-ln-s3: finished earlier, skipped"), std::string::npos);
  for (const auto& run : full["runs"]) EXPECT_EQ(run["status"], "finished");
  EXPECT_EQ(full["jobs"], 2);
  EXPECT_NE(testing::read_text(dir + "/study/report.md").find("2 runs trained at a time"), std::string::npos);
}

TEST(Compare, StopRequestSavesTheRunInTrainingAndStartsNoOther) {
  // A run too long to finish by itself, with no dev evaluation to checkpoint it: the only
  // checkpoint is the one the stop request makes. Asked to stop once it has logged.
  const auto dir = write_tiny_preset("stop", ", train.max_updates: 100000, train.valid_every: 100000");
  auto request = request_for(dir);
  const auto run = dir + "/study/runs/2L-2H-post-ln-s3";
  request.stop_requested = [&] { return read_metrics(run + "/metrics.jsonl").size() >= 3; };
  std::ostringstream log;
  auto results = compare(request, log);
  EXPECT_FALSE(results["complete"].get<bool>());
  EXPECT_NE(log.str().find("2L-2H-post-ln-s3: stopped; the same command resumes it"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("stopped on request"), std::string::npos);
  EXPECT_EQ(log.str().find("failed"), std::string::npos);
  for (const auto& row : results["runs"])
    EXPECT_EQ(row["status"], row["name"] == "2L-2H-post-ln-s3" ? "unfinished" : "not started") << row["name"];
  EXPECT_FALSE(fs::exists(run + "/failed.txt"));
  ASSERT_TRUE(fs::exists(run + "/checkpoint_last.pt"));
  const auto train_log = testing::read_text(run + "/train.log");
  const auto at = train_log.find("stopped on request at update ");
  ASSERT_NE(at, std::string::npos) << train_log;
  EXPECT_GE(std::stoll(train_log.substr(at + 29)), 6);  // past the third logged update
}

TEST(Compare, DivergedRunShowsAsDivergedInTableAndFigure) {
  const auto dir = write_tiny_preset("diverge", ", train.lr: 10000, train.warmup_updates: 0");
  std::ostringstream log;
  auto results = compare(request_for(dir), log);
  int diverged = 0;
  for (const auto& run : results["runs"]) diverged += run["status"] == "diverged";
  ASSERT_GT(diverged, 0) << log.str();
  const auto report = testing::read_text(dir + "/study/report.md");
  EXPECT_NE(report.find("| diverged at "), std::string::npos);
  EXPECT_NE(report.find("diverged in 1/1 seeds"), std::string::npos);
  EXPECT_NE(testing::read_text(dir + "/study/figures/data/diverged.dat").find("-s3"), std::string::npos);
  EXPECT_NE(testing::read_text(dir + "/study/figures/dev_loss.gp").find("diverged"), std::string::npos);
}

// Findings from a made-up grid whose differences are worked out by hand: shallow 2L-4H,
// deeper 4L-2H and 8L-1H, post-ln, admin and pre-ln, three seeds; one deep post-ln seed diverged.
TEST(Compare, FindingsAreComputedSeedBySeedFromTheScores) {
  nlohmann::json results = {{"metric", "wer"},     {"metric_name", "WER"},    {"lower_is_better", true}, {"shallow_heads", 4},
                            {"complete", true},    {"runs", nlohmann::json::array()},
                            {"inference", {{{"heads", 4}, {"batch", 8}, {"length", 24}, {"tokens_per_s", 1000.0}},
                                           {{"heads", 1}, {"batch", 8}, {"length", 24}, {"tokens_per_s", 800.0}}}}};
  auto add = [&](int64_t heads, const std::string& scheme, std::vector<double> wer) {
    const int64_t layers = 8 / heads;
    for (int64_t seed = 1; seed <= 3; ++seed) {
      nlohmann::json run = {{"heads", heads}, {"layers", layers}, {"architecture", fmt::format("{}L-{}H", layers, heads)},
                            {"scheme", scheme}, {"seed", seed}, {"status", "finished"}, {"tokens_per_s", 1000.0 * heads + seed}};
      if (wer[seed - 1] < 0)
        run["status"] = "diverged", run["diverged_at_update"] = 120;
      else
        run["test_metric"] = wer[seed - 1];
      results["runs"].push_back(run);
    }
  };
  add(4, "post-ln", {30, 31, 32});  // the shallow model's best scheme (mean 31)
  add(4, "admin", {31, 32, 33});
  add(2, "post-ln", {31, 31, 33});  // behind by 1, 0, 1
  add(2, "admin", {28, 29, 30});    // ahead of shallow admin by 3, 3, 3
  add(1, "post-ln", {-1, 40, 42});  // seed 1 diverged; behind by 9 and 10
  add(1, "admin", {27, 27.5, 28.5});  // ahead by 4, 4.5, 4.5 (admin) and 3, 3.5, 3.5 (post-ln)
  add(4, "pre-ln", {30.5, 31.5, 32.5});  // never the best scheme
  add(2, "pre-ln", {29.5, 32.5, 31.5});  // ahead by 1, -1, 1: mean 0.33, sd 1.15
  add(1, "pre-ln", {29.5, 31.5, 32});    // ahead by 1, 0, 0.5: mean 0.5, sd 0.5
  const auto computed = study_findings(StudyResults::from_json(results));
  std::string all;
  for (const auto& f : computed.sentences) all += f + "\n";
  for (const char* expected : {
           // Seeds 2 and 3 end at 40 and 42, more than 1.2x the best runs of those seeds (27.5, 28.5).
           "Stability (RQ3): 8L-1H with post-ln: diverged in 1/3 seeds (at update 120); finished far behind (test WER "
           "more than 20% higher than the best run of the same seed) in 2/3 seeds.\n",
           "Stability (RQ3): 4L-2H with post-ln trained stably in 3/3 seeds.\n",
           "Stability (RQ3): 4L-2H with admin trained stably in 3/3 seeds.\n",
           "Equal size (RQ4): deeper 4L-2H (post-ln) vs shallow 2L-4H (post-ln): the deeper model is behind by "
           "0.67 ± 0.58 WER points (mean ± sd over 3 seeds), better on 0/3 seeds.\n",
           "Equal size (RQ4): deeper 4L-2H (admin) vs shallow 2L-4H (admin): the deeper model is ahead by 3.00 ± 0.00 "
           "WER points (mean ± sd over 3 seeds), better on 3/3 seeds.\n",
           "Equal size (RQ4): deep single-head 8L-1H (post-ln) vs shallow 2L-4H (post-ln): the deeper model is behind "
           "by 9.50 ± 0.71 WER points (mean ± sd over 2 seeds), better on 0/2 seeds; diverged seeds, not counted: 1 "
           "deep, 0 shallow.\n",
           "Equal size (RQ4): deep single-head 8L-1H (admin) vs shallow 2L-4H (admin): the deeper model is ahead by "
           "4.33 ± 0.29 WER points (mean ± sd over 3 seeds), better on 3/3 seeds.\n",
           "Equal size, each with its best scheme (RQ4): deep single-head 8L-1H (admin) vs shallow 2L-4H (post-ln): "
           "the deeper model is ahead by 3.33 ± 0.29 WER points (mean ± sd over 3 seeds), better on 3/3 seeds.\n",
           "Gain against heads unrolled (RQ5), admin: +3.00 at 2x, +4.33 at 4x WER points; the gain grows with the "
           "heads unrolled, by more than the seeds' spread (sd up to 0.29).\n",
           "Gain against heads unrolled (RQ5), post-ln: -0.67 at 2x, -9.50 at 4x WER points; the gain shrinks as more "
           "heads are unrolled, by more than the seeds' spread (sd up to 0.71).\n",
           // pre-ln grows by 0.17 only, less than the 1.15 sd of its 2x point.
           "Gain against heads unrolled (RQ5), pre-ln: +0.33 at 2x, +0.50 at 4x WER points; its change from 2x to 4x "
           "(0.17) is within the seeds' spread (sd up to 1.15): no trend shown.\n",
           "Inference (RQ4): 8L-1H decodes at 0.80x at batch 8 length 24 the speed of 2L-4H.\n",
           // 8L-1H: seeds 2 and 3 of post-ln (seed 1 diverged) and 1-3 of admin and pre-ln, 1000 + seed each.
           "Training speed: 8L-1H trains 0.25x as many target tokens a second as 2L-4H (1002 against 4002, means "
           "over 8 and 9 finished runs).\n"})
    EXPECT_NE(all.find(expected), std::string::npos) << expected << "\nin:\n" << all;
  EXPECT_EQ(all.find("Study incomplete"), std::string::npos);
  ASSERT_EQ(computed.gains.size(), 6u);
  for (const auto& g : computed.gains)
    if (g.scheme == "admin" && g.heads == 1) {
      EXPECT_EQ(g.unrolled, 4);
      EXPECT_NEAR(g.gain, 13.0 / 3, 1e-12);
      EXPECT_EQ(g.seeds, 3);
    }
}

TEST(Compare, PresetErrorsNameTheFileAndKey) {
  const auto dir = write_tiny_preset("bad", "");
  std::ofstream(dir + "/bad.yaml") << "config: " << dir << "/task.yaml\nschemes: [post-ln, adamin]\n";
  auto request = request_for(dir);
  request.preset = dir + "/bad.yaml";
  std::ostringstream log;
  try {
    compare(request, log);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/bad.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("adamin"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/heads.yaml") << "config: " << dir << "/task.yaml\nschemes: [admin]\nheads: [3]\n";
  request.preset = dir + "/heads.yaml";
  EXPECT_THROW(compare(request, log), ConfigError);  // 3 does not divide 2 heads
}

}  // namespace
}  // namespace headcount

namespace headcount {
namespace {

TEST(Compare, ShippedPresetsValidateAndExpand) {
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(HEADCOUNT_SOURCE_DIR);  // presets name configs relative to the repository
  auto demo = expand_grid(load_preset("demo"), {});
  ASSERT_EQ(demo.size(), 4u);
  EXPECT_EQ(demo.back().config.model.encoder.layers, 12);
  EXPECT_EQ(demo.back().config.model.encoder.ffn_dim, 64);
  auto full = expand_grid(load_preset("g2p"), {});
  EXPECT_EQ(full.size(), 27u);  // 3 head counts x 3 schemes x 3 seeds
  EXPECT_EQ(full.front().config.train.max_updates, 3000);
  EXPECT_EQ(full.back().name, "12L-1H-admin-s3");
  const auto order = training_order(full);  // a full first seed before any second seed
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(full[order[i]].seed, 1) << i;
  EXPECT_EQ(full[order[0]].name, "3L-4H-post-ln-s1");
  EXPECT_EQ(full[order[9]].name, "3L-4H-post-ln-s2");
  auto mt = expand_grid(load_preset("paper-mt"), {});
  ASSERT_EQ(mt.size(), 4u);
  EXPECT_EQ(mt.back().name, "48L-1H-admin-s1");
  EXPECT_EQ(mt.back().config.model.decoder.ffn_dim, 256);
  EXPECT_THROW(load_preset("no-such-preset"), ConfigError);
  std::filesystem::current_path(previous);
}

}  // namespace
}  // namespace headcount

namespace headcount {
namespace {

TEST(Compare, ShippedPretrainingPresetsExpandWithTheirDownstreamRuns) {
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(HEADCOUNT_SOURCE_DIR);
  const auto demo = load_preset("mlm-demo");
  const auto grid = expand_grid(demo, {});
  ASSERT_EQ(grid.size(), 4u);  // 2L-4H and 8L-1H, post-ln and admin
  EXPECT_EQ(grid.back().name, "8L-1H-admin-s1");
  const auto downstream = expand_downstream(demo, grid);
  ASSERT_EQ(downstream.size(), 4u);  // spam from each pretraining run, no scratch runs
  EXPECT_EQ(downstream.back().name, "8L-1H-admin-s1.spam-s1");
  EXPECT_EQ(downstream.back().pretrained, "8L-1H-admin-s1");
  EXPECT_EQ(downstream.back().config.model.encoder.layers, 8);  // the pretraining run's model
  EXPECT_EQ(downstream.back().config.data.max_length, 64);     // the task's own set
  EXPECT_EQ(downstream.back().config.data.task, TaskKind::Classification);
  const auto hour = load_preset("mlm-hour");
  const auto hour_grid = expand_grid(hour, {});
  const auto hour_downstream = expand_downstream(hour, hour_grid);
  // spam: 2 pretrained + 2 scratch; party: 3 seeds of each.
  ASSERT_EQ(hour_downstream.size(), 2u + 2u + 6u + 6u);
  size_t scratch = 0;
  for (const auto& run : hour_downstream) scratch += run.pretrained.empty();
  EXPECT_EQ(scratch, 8u);
  EXPECT_EQ(hour_downstream.back().name, "16L-1H-admin.party-scratch-s3");
  const auto full = load_preset("mlm");
  EXPECT_EQ(expand_grid(full, {}).size(), 27u);
  for (const char* name : {"paper-bert", "paper-bert-large"}) {
    const auto paper = load_preset(name);
    const auto paper_grid = expand_grid(paper, {});
    ASSERT_EQ(paper_grid.size(), 4u) << name;
    const auto paper_downstream = expand_downstream(paper, paper_grid);
    EXPECT_EQ(paper_downstream.size(), 4u * 8u) << name;  // 8 GLUE tasks from each pretraining run
  }
  EXPECT_EQ(expand_grid(load_preset("paper-bert"), {}).back().name, "144L-1H-admin-s1");
  EXPECT_EQ(expand_grid(load_preset("paper-bert-large"), {}).back().name, "384L-1H-admin-s1");
  std::filesystem::current_path(previous);
}

// A tiny pretraining grid with one downstream task, end to end: pretraining, fine-tuning from
// each pretrained run and from scratch, and the report's downstream section.
TEST(Compare, PretrainingGridFineTunesEveryRunAndReportsDownstream) {
  const auto dir = fs::temp_directory_path() / "hc_compare_mlm";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 random(5);
  const std::vector<std::string> good{"fine", "great", "good"}, bad{"poor", "awful", "bad"}, filler{"the", "film", "was", "a"};
  {
    std::ofstream corpus(dir / "corpus.txt");
    for (int d = 0; d < 20; ++d) {
      for (int line = 0; line < 3; ++line) {
        for (int w = 0; w < 8; ++w) corpus << (w ? " " : "") << (random() % 2 ? filler[random() % 4] : good[random() % 3]);
        corpus << "\n";
      }
      corpus << "\n";
    }
    for (const char* split : {"train", "dev", "test"}) {
      std::ofstream out(dir / (std::string(split) + ".tsv"));
      out << "sentence\tlabel\n";
      for (int i = 0; i < 40; ++i) {
        const bool positive = random() % 2;
        out << "the film was " << (positive ? good : bad)[random() % 3] << "\t" << (positive ? "pos" : "neg") << "\n";
      }
    }
  }
  const auto d = dir.string();
  const std::string model = "model:\n  architecture: encoder\n  d_model: 16\n  encoder: {layers: 2, heads: 2, ffn_dim: 32}\n"
                            "  dropout: 0.0\n  learned_positions: true\n  max_positions: 24\n";
  std::ofstream(dir / "mlm.yaml") << model << "data:\n  task: masked-lm\n  train_file: " << d << "/corpus.txt\n  valid_file: " << d
                                  << "/corpus.txt\n  vocab_size: 24\n  max_length: 16\n  max_tokens: 160\n"
                                  << "train:\n  max_updates: 6\n  warmup_updates: 2\n  valid_every: 3\n  log_every: 3\n";
  std::ofstream(dir / "cls.yaml") << model << "data:\n  task: classification\n  train_file: " << d << "/train.tsv\n  valid_file: " << d
                                  << "/dev.tsv\n  test_file: " << d << "/test.tsv\n  vocab_size: 24\n  max_length: 16\n"
                                  << "  max_tokens: 160\n  positive_label: pos\n  metric: f1\n"
                                  << "train:\n  max_updates: 6\n  warmup_updates: 2\n  valid_every: 3\n  log_every: 3\n";
  std::ofstream(dir / "preset.yaml") << "description: tiny pretraining grid\nconfig: " << d << "/mlm.yaml\nheads: [1]\n"
                                     << "schemes: [admin]\nseeds: 1\ninference: {batch_sizes: [2], lengths: [8], repeats: 1}\n"
                                     << "downstream:\n  - {name: sentiment, config: " << d << "/cls.yaml, seeds: 2, scratch: true}\n";
  CompareRequest request;
  request.preset = d + "/preset.yaml";
  request.out = d + "/study";
  request.program = HEADCOUNT_BINARY;
  request.threads = 1;
  request.command_line = "compare (test)";
  std::ostringstream log;
  const auto results = compare(request, log);
  EXPECT_TRUE(results["complete"].get<bool>()) << log.str();
  EXPECT_EQ(results["metric"], "perplexity");
  ASSERT_EQ(results["downstream"].size(), 1u);
  const auto& sentiment = results["downstream"][0];
  EXPECT_EQ(sentiment["metric"], "f1");
  ASSERT_EQ(sentiment["runs"].size(), 8u);  // 2 architectures x 2 seeds, pretrained and from scratch
  for (const auto& run : sentiment["runs"]) {
    EXPECT_EQ(run["status"], "finished") << run.dump();
    EXPECT_TRUE(run.contains("test_metric")) << run.dump();
  }
  // The fine-tuning runs started from their pretraining run's folder; the scratch ones did not.
  EXPECT_EQ(load_config(d + "/study/configs/4L-1H-admin-s1.sentiment-s2.yaml", {}).train.init_from,
            d + "/study/runs/4L-1H-admin-s1");
  EXPECT_EQ(load_config(d + "/study/configs/4L-1H-admin.sentiment-scratch-s2.yaml", {}).train.init_from, "");
  const auto report = testing::read_text(d + "/study/report.md");
  for (const char* part : {"## Downstream: sentiment (test F1)", "| 2L-2H | admin | pretrained | 2 |",
                           "| 4L-1H | admin | scratch | 2 |", "Pretraining (sentiment): 2L-2H with admin fine-tuned from pretraining",
                           "Downstream sentiment, fine-tuned: Equal size (RQ4): deep single-head 4L-1H (admin) vs shallow 2L-2H (admin)"})
    EXPECT_NE(report.find(part), std::string::npos) << part << "\n" << report;
}

}  // namespace
}  // namespace headcount
