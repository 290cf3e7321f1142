// Training: schedule, RAdam and the loss follow their formulas; a resumed run continues
// exactly as an uninterrupted one; divergence ends a run as a result.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <sstream>

#include "model/checkpoint.h"
#include "train/data_parallel.h"
#include "task/loss.h"
#include "task/task_factory.h"
#include "train/optimizer.h"
#include "run/run_folder.h"
#include "train/schedule.h"
#include "train/trainer.h"
#include "util/process.h"
#include "reversal_corpus.h"
#include "test_support.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

TEST(Schedule, LinearWarmupThenInverseSquareRoot) {
  InverseSqrtSchedule s{1e-3, 1e-7, 100};
  EXPECT_NEAR(s.at(0), 1e-7, 1e-15);
  EXPECT_NEAR(s.at(50), 1e-7 + (1e-3 - 1e-7) * 0.5, 1e-15);
  EXPECT_NEAR(s.at(100), 1e-3, 1e-15);
  EXPECT_NEAR(s.at(400), 1e-3 * 0.5, 1e-15);
  EXPECT_NEAR(s.at(10000), 1e-4, 1e-15);
}

TEST(Schedule, FinalDecayFallsLinearlyToZeroAndLeavesEarlierUpdatesAlone) {
  const InverseSqrtSchedule plain{1e-3, 1e-7, 100};
  const InverseSqrtSchedule decayed{1e-3, 1e-7, 100, /*max_updates=*/1000, /*decay_updates=*/600};
  for (int64_t u : {0, 50, 100, 250, 400}) EXPECT_EQ(decayed.at(u), plain.at(u)) << u;
  EXPECT_NEAR(decayed.at(400), 5e-4, 1e-15);        // where the decay starts from
  EXPECT_NEAR(decayed.at(700), 5e-4 * 0.5, 1e-15);  // halfway down
  EXPECT_NEAR(decayed.at(999), 5e-4 / 600, 1e-15);
  EXPECT_EQ(decayed.at(1000), 0.0);
  EXPECT_EQ(decayed.at(1200), 0.0);  // never negative past the budget
}

TEST(RAdam, RectificationFollowsThePublishedFormula) {
  const double beta2 = 0.999, rho_inf = 2 / (1 - beta2) - 1;
  for (int64_t t : {1, 2, 3, 4, 5, 6, 10, 100, 10000}) {
    const double b = std::pow(beta2, t), rho = rho_inf - 2 * t * b / (1 - b);
    const double expected =
        rho > 4 ? std::sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)) : 0.0;
    EXPECT_NEAR(RAdam::rectification(t, beta2), expected, 1e-12) << t;
  }
  EXPECT_EQ(RAdam::rectification(1, 0.999), 0.0);  // the first steps are momentum SGD
  EXPECT_GT(RAdam::rectification(6, 0.999), 0.0);
  EXPECT_NEAR(RAdam::rectification(1000000, 0.999), 1.0, 1e-3);
}

TEST(RAdam, UpdatesMatchTheRuleComputedByHand) {
  auto p = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  OptimizerOptions o{OptimizerKind::RAdam, 0.9, 0.999, 1e-8, 0.01};
  auto optimizer = make_optimizer(o, {p});
  double m[2] = {0, 0}, v[2] = {0, 0}, x[2] = {1.0, -2.0};
  const double lr = 0.1;
  for (int t = 1; t <= 8; ++t) {
    const double g[2] = {0.5 * t, -0.25};
    p.mutable_grad() = torch::tensor({g[0], g[1]}, torch::kDouble);
    optimizer->step(lr);
    const double r = RAdam::rectification(t, 0.999);
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      x[i] *= 1 - lr * 0.01;
      const double m_hat = m[i] / (1 - std::pow(0.9, t));
      x[i] -= r > 0 ? lr * r * m_hat / (std::sqrt(v[i] / (1 - std::pow(0.999, t))) + 1e-8) : lr * m_hat;
    }
    EXPECT_NEAR(p[0].item<double>(), x[0], 1e-12) << "step " << t;
    EXPECT_NEAR(p[1].item<double>(), x[1], 1e-12) << "step " << t;
  }
}

TEST(Loss, LabelSmoothingMatchesFairseqFormula) {
  auto logits = torch::tensor({{{2.0, 0.5, -1.0, 0.0}, {0.1, 0.2, 0.3, 0.4}}}, torch::kDouble);
  auto target = torch::tensor({{2, 0}}, torch::kLong);  // the second position is padding
  auto sums = label_smoothed_cross_entropy(logits, target, 0.1);
  auto lp = torch::log_softmax(logits[0][0], -1);
  const double nll = -lp[2].item<double>(), smooth = -lp.sum().item<double>();
  EXPECT_EQ(sums.tokens, 1);
  EXPECT_NEAR(sums.nll.item<double>(), nll, 1e-12);
  EXPECT_NEAR(sums.loss.item<double>(), (1 - 0.1 - 0.1 / 3) * nll + 0.1 / 3 * smooth, 1e-12);
}

// A tiny parallel corpus (reverse a sequence of letters) in the fairseq file layout.
std::string write_reverse_corpus() {
  // One folder per process: CTest may run several tests at once, and a test reading the
  // corpus while another rewrites it would read a torn file.
  return testing::write_reversal_corpus(
      (fs::temp_directory_path() / fmt::format("hc_reverse_corpus_{}", getpid())).string(), 300, 30, 20, 7);
}

RunConfig reverse_config(const std::string& corpus, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides{"data.task=parallel", "data.train_prefix=" + corpus + "/train",
                          "data.valid_prefix=" + corpus + "/valid", "data.test_prefix=" + corpus + "/test",
                          "data.max_tokens=200", "model.d_model=16", "model.encoder.layers=2", "model.encoder.heads=2",
                          "model.encoder.ffn_dim=32", "model.decoder.layers=2", "model.decoder.heads=2",
                          "model.decoder.ffn_dim=32", "model.dropout=0.1", "model.max_positions=64", "data.max_length=40",
                          "train.lr=0.003", "train.warmup_updates=5", "train.log_every=1", "train.valid_every=4",
                          "train.valid_decode_limit=10", "train.max_updates=12", "eval.beam=2", "eval.max_length_b=12"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config("", overrides);
}

// A run folder path under the temp directory, emptied so each test starts a fresh run.
std::string empty_run_dir(const std::string& name) {
  const auto dir = (fs::temp_directory_path() / name).string();
  fs::remove_all(dir);
  return dir;
}

using testing::train_losses;

TEST(Trainer, ResumedRunRepeatsTheUninterruptedLosses) {
  const auto corpus = write_reverse_corpus();
  for (const char* scheme : {"admin", "post-ln"}) {
    auto config = reverse_config(corpus);
    FieldTable table;
    describe_fields(config, table);
    table.find("model.residual")->set(scheme);
    table.find("train.optimizer")->set(std::string(scheme) == "admin" ? "radam" : "adam");
    const auto whole = empty_run_dir("hc_run_whole"), split = empty_run_dir("hc_run_split");
    std::ostringstream log;
    auto summary = train({config, whole, false, 0}, log);
    ASSERT_EQ(summary.at("status"), "finished") << log.str();
    EXPECT_EQ(summary.at("updates"), 12);

    auto first = train({config, split, false, 6}, log);  // "killed" after 6 updates
    EXPECT_EQ(first.at("status"), "interrupted");
    EXPECT_FALSE(fs::exists(split + "/summary.json"));
    EXPECT_THROW(train({config, split, false, 0}, log), std::runtime_error);  // never overwrites a run
    auto resumed = train({config, split, true, 0}, log);  // continues from the update-4 checkpoint
    EXPECT_EQ(resumed.at("status"), "finished");

    const auto a = train_losses(whole), b = train_losses(split);
    ASSERT_EQ(a.size(), 12u);
    ASSERT_EQ(b.size(), 12u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << scheme << " update " << i + 1;
    EXPECT_DOUBLE_EQ(summary.at("test").at("bleu").get<double>(), resumed.at("test").at("bleu").get<double>());
    if (std::string(scheme) == "admin") {
      EXPECT_EQ(summary.at("admin_profile").at("encoder").size(), 4u);
      EXPECT_EQ(resumed.at("admin_profile"), summary.at("admin_profile"));
    }
  }
}

TEST(Trainer, StopOnRequestSavesTheCurrentUpdateAndResumesExactly) {
  // As Ctrl-C does through StopSignal: asked before update 7, between the checkpoints of
  // updates 4 and 8, the run saves update 6 and a resumed run goes on from there. Train log
  // lines every 5 updates, so the stop and the dev evaluations fall inside a line's span.
  const auto corpus = write_reverse_corpus();
  const auto config = reverse_config(corpus, {"train.log_every=5"});
  const auto whole = empty_run_dir("hc_run_stop_whole"), split = empty_run_dir("hc_run_stop_split");
  std::ostringstream log;
  ASSERT_EQ(train({config, whole, false, 0}, log).at("status"), "finished") << log.str();

  TrainRequest stopped{config, split, false, 0};
  int asked = 0;
  stopped.stop_requested = [&asked] { return ++asked == 7; };
  auto first = train(stopped, log);
  EXPECT_EQ(first.at("status"), "interrupted");
  EXPECT_EQ(first.at("updates"), 6);
  EXPECT_FALSE(fs::exists(split + "/summary.json"));
  EXPECT_EQ(load_checkpoint(split + "/checkpoint_last.pt").extra.at("update"), 6);
  EXPECT_NE(log.str().find("stopped on request at update 6"), std::string::npos);

  auto resumed = train({config, split, true, 0}, log);
  EXPECT_EQ(resumed.at("status"), "finished");
  EXPECT_NE(log.str().find("resuming " + split + " at update 6"), std::string::npos);
  const auto a = train_losses(whole), b = train_losses(split);
  ASSERT_EQ(a.size(), 2u);  // updates 5 and 10
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << "line " << i + 1;
}

TEST(Trainer, DataParallelOverTwoProcessesRepeatsUpdateFreqTwo) {
  if (!data_parallel_available()) GTEST_SKIP() << "built without Gloo's headers";
  // Without dropout the two are the same arithmetic: in each update rank r takes the batch a
  // single process takes r-th, and the collective adds up the gradients as accumulation does.
  const auto corpus = write_reverse_corpus();
  const auto single = empty_run_dir("hc_run_update_freq"), parallel = empty_run_dir("hc_run_parallel");
  std::ostringstream log;
  train({reverse_config(corpus, {"model.dropout=0", "train.update_freq=2"}), single, false, 0}, log);
  // The data-parallel run as a user starts it: one command, which starts the second rank.
  const auto config_path = parallel + ".yaml";
  std::ofstream(config_path) << to_yaml(reverse_config(corpus, {"model.dropout=0", "train.processes=2"}));
  const auto command = fmt::format("'{}' --threads 2 train --config '{}' --out '{}' > '{}.log' 2>&1", HEADCOUNT_BINARY,
                                   config_path, parallel, parallel);
  ASSERT_EQ(std::system(command.c_str()), 0) << testing::read_text(parallel + ".log");
  const auto expected = train_losses(single), losses = train_losses(parallel);
  ASSERT_EQ(losses.size(), expected.size());
  ASSERT_EQ(losses.size(), 12u);
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], expected[i], 1e-5 * expected[i]) << "update " << i + 1;
  const auto summary = read_json_file(parallel + "/summary.json");
  EXPECT_EQ(summary.at("status"), "finished");
  EXPECT_EQ(summary.at("processes"), 2);
  EXPECT_EQ(summary.at("threads"), 1);  // --threads 2 split between the ranks
  EXPECT_TRUE(summary.contains("test"));
  EXPECT_NE(testing::read_text(parallel + "/rank1.log").find("rank 1: finished after 12 updates"), std::string::npos);
  EXPECT_FALSE(fs::exists(parallel + "/rendezvous"));
}

TEST(Trainer, DataParallelRunStoppedBySigtermResumesExactly) {
  if (!data_parallel_available()) GTEST_SKIP() << "built without Gloo's headers";
  // SIGTERM to rank 0 (as `kill` or compare sends it): both ranks stop at one update, rank 0
  // saves it, and the resumed group repeats the uninterrupted losses. No dev evaluation
  // before the end, so the stop's checkpoint is the only one to resume from.
  const auto corpus = write_reverse_corpus();
  const std::vector<std::string> shared{"model.dropout=0", "train.max_updates=100", "train.valid_every=1000"};
  auto with = [&](const std::string& extra) {
    auto overrides = shared;
    overrides.push_back(extra);
    return reverse_config(corpus, overrides);
  };
  const auto single = empty_run_dir("hc_run_stop_update_freq"), parallel = empty_run_dir("hc_run_stop_parallel");
  std::ostringstream log;
  train({with("train.update_freq=2"), single, false, 0}, log);
  const auto config_path = parallel + ".yaml";
  std::ofstream(config_path) << to_yaml(with("train.processes=2"));
  const auto log_path = parallel + ".log";
  fs::remove(log_path);
  const std::vector<std::string> command{HEADCOUNT_BINARY, "--threads", "2", "train", "--config", config_path, "--out", parallel};
  const pid_t pid = start_process(command, log_path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (read_metrics(parallel + "/metrics.jsonl").size() < 10) {
    ASSERT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << testing::read_text(log_path);  // still running
    if (std::chrono::steady_clock::now() > deadline) kill(pid, SIGKILL);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << testing::read_text(log_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGTERM);
  ASSERT_EQ(wait_for_process(pid), 128 + SIGTERM) << testing::read_text(log_path);
  EXPECT_FALSE(fs::exists(parallel + "/summary.json"));
  ASSERT_TRUE(fs::exists(parallel + "/checkpoint_last.pt"));
  EXPECT_NE(testing::read_text(parallel + "/rank1.log").find("rank 1: interrupted after"), std::string::npos);

  auto resume = command;
  resume.push_back("--resume");
  ASSERT_EQ(wait_for_process(start_process(resume, log_path)), 0) << testing::read_text(log_path);
  EXPECT_NE(testing::read_text(log_path).find("resuming"), std::string::npos);
  const auto expected = train_losses(single), losses = train_losses(parallel);
  ASSERT_EQ(losses.size(), 100u);
  ASSERT_EQ(expected.size(), 100u);
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], expected[i], 1e-5 * expected[i]) << "update " << i + 1;
  EXPECT_EQ(read_json_file(parallel + "/summary.json").at("status"), "finished");
}

TEST(Trainer, HugeLearningRateEndsAsDivergedNotAsAnException) {
  const auto corpus = write_reverse_corpus();
  auto config = reverse_config(corpus);
  config.train.lr = 1e4;
  config.train.warmup_updates = 0;
  config.train.max_updates = 50;
  const auto dir = empty_run_dir("hc_run_diverge");
  std::ostringstream log;
  auto summary = train({config, dir, false, 0}, log);
  EXPECT_EQ(summary.at("status"), "diverged") << log.str();
  ASSERT_TRUE(summary.at("diverged_at_update").is_number_integer());
  EXPECT_GE(summary.at("diverged_at_update").get<int>(), 1);
  EXPECT_LE(summary.at("diverged_at_update").get<int>(), 50);
  EXPECT_EQ(read_json_file(dir + "/summary.json").at("status"), "diverged");
  EXPECT_EQ(read_metrics(dir + "/metrics.jsonl").back().at("kind"), "diverged");
}

TEST(Trainer, PatienceStopsARunWhoseDevScoreStopsImproving) {
  const auto corpus = write_reverse_corpus();
  auto config = reverse_config(corpus);
  config.train.lr = 1e-12;  // the model cannot move, so dev BLEU never improves after the first evaluation
  config.train.warmup_updates = 0;
  config.train.valid_every = 2;
  config.train.patience = 2;
  config.train.max_updates = 40;
  const auto dir = empty_run_dir("hc_run_patience");
  std::ostringstream log;
  auto summary = train({config, dir, false, 0}, log);
  EXPECT_EQ(summary.at("status"), "finished");
  EXPECT_EQ(summary.at("updates"), 6);  // evaluations at 2 (best), 4 and 6 (no better): stop
  EXPECT_EQ(summary.at("best_dev").at("update"), 2);
  EXPECT_NE(log.str().find("stopping early"), std::string::npos);
}

TEST(Trainer, RunFolderHoldsConfigMetricsSummaryAndCheckpoints) {
  const auto corpus = write_reverse_corpus();
  auto config = reverse_config(corpus);
  config.train.average_last = 2;
  const auto dir = empty_run_dir("hc_run_files");
  std::ostringstream log;
  auto summary = train({config, dir, false, 0}, log);
  for (const char* file : {"config.yaml", "metrics.jsonl", "summary.json", "source.vocab", "target.vocab",
                           "checkpoint_last.pt", "checkpoint_best.pt", "checkpoint_average.pt"})
    EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;
  EXPECT_EQ(load_config(dir + "/config.yaml", {}).train.average_last, 2);
  // The dev set chooses between the average and the best checkpoint.
  const double average_dev = summary.at("average_dev").at("value"), best_dev = summary.at("best_dev").at("value");
  const std::string metric = summary.at("best_dev").at("metric");
  const auto checkpoint_metric = make_task(config, Runtime{})->checkpoint_metric();
  EXPECT_EQ(checkpoint_metric.key, metric);
  const bool average_wins = checkpoint_metric.lower_is_better ? average_dev <= best_dev : average_dev >= best_dev;
  EXPECT_EQ(summary.at("test").at("checkpoint"), average_wins ? "checkpoint_average.pt" : "checkpoint_best.pt");
  for (const char* key : {"parameters", "wall_time_s", "tokens_per_s", "peak_rss_mib", "best_dev"})
    EXPECT_TRUE(summary.contains(key)) << key;
  EXPECT_GT(summary.at("tokens_per_s").get<double>(), 0);
  const auto lines = read_metrics(dir + "/metrics.jsonl");
  int dev_lines = 0;
  for (const auto& line : lines) {
    for (const char* key : {"update", "elapsed_s"}) EXPECT_TRUE(line.contains(key));
    if (line.at("kind") == "train") {
      for (const char* key : {"epoch", "train_loss", "lr", "grad_norm", "tokens_per_s"}) EXPECT_TRUE(line.contains(key));
    }
    dev_lines += line.at("kind") == "dev";
  }
  EXPECT_EQ(dev_lines, 3);  // updates 4, 8, 12
}

}  // namespace
}  // namespace headcount
