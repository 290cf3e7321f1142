// Reliability: bad input is refused with its file and line, nothing earlier is lost when a
// checkpoint is torn or the disk fills, one trainer per run folder, SIGHUP is a clean stop,
// and a run killed at random moments resumes into the losses of an uninterrupted one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "config/run_config.h"
#include "data/parallel_text.h"
#include "study/compare.h"
#include "reversal_corpus.h"
#include "test_support.h"
#include "run/run_folder.h"
#include "train/trainer.h"
#include "util/process.h"
#include "util/run_lock.h"
#include "util/text.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) { return testing::fresh_dir("hc_rel", name); }

// A reversal corpus of 200 / 20 / 10 pairs, which the tests then spoil.
std::string write_corpus(const std::string& dir) { return testing::write_reversal_corpus(dir, 200, 20, 10, 6); }

std::vector<std::string> corpus_overrides(const std::string& corpus) {
  return {"data.task=parallel", "data.train_prefix=" + corpus + "/train", "data.valid_prefix=" + corpus + "/valid",
          "data.test_prefix=" + corpus + "/test", "data.max_tokens=200", "model.d_model=16", "model.encoder.layers=2",
          "model.encoder.heads=2", "model.encoder.ffn_dim=32", "model.decoder.layers=2", "model.decoder.heads=2",
          "model.decoder.ffn_dim=32", "model.max_positions=64", "data.max_length=40", "train.lr=0.003",
          "train.warmup_updates=5", "train.log_every=1", "train.valid_every=5", "train.valid_decode_limit=5",
          "train.max_updates=20", "eval.beam=1", "eval.max_length_b=12"};
}

RunConfig corpus_config(const std::string& corpus, std::vector<std::string> extra = {}) {
  auto overrides = corpus_overrides(corpus);
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config("", overrides);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

using testing::train_losses;

TEST(Reliability, InvalidUtf8IsRefusedWithFileAndLine) {
  const auto dir = write_corpus(fresh_dir("utf8"));
  { std::ofstream(dir + "/train.src", std::ios::app) << "ok \xC3\x28 broken\n"; }   // a 2-byte lead without its follower
  { std::ofstream(dir + "/train.tgt", std::ios::app) << "fine\n"; }
  std::ostringstream log;
  const auto message = error_of([&] { train({corpus_config(dir), dir + "/run", false, 0}, log); });
  EXPECT_NE(message.find(dir + "/train.src:201: not valid UTF-8 at byte 4 (0xC3)"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/run/checkpoint_last.pt"));
  // Overlong forms and surrogates are not UTF-8 either; a config file and --set are checked too.
  EXPECT_NE(invalid_utf8_at("\xC0\xAF"), std::string::npos);
  EXPECT_NE(invalid_utf8_at("\xED\xA0\x80"), std::string::npos);
  EXPECT_EQ(invalid_utf8_at("h\xC3\xA9llo \xE2\x96\x81 \xF0\x9F\x98\x80"), std::string::npos);
  std::ofstream(dir + "/bad.yaml") << "train:\n  lr: 0.001\n  optimizer: \xFF\n";
  EXPECT_NE(error_of([&] { load_config(dir + "/bad.yaml", {}); }).find(dir + "/bad.yaml:3: not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_config("", {"data.train_prefix=\xFE"}); }).find("not valid UTF-8"), std::string::npos);
}

TEST(Reliability, TranslateRefusesInvalidUtf8OnStdin) {
  const auto dir = write_corpus(fresh_dir("stdin"));
  std::ostringstream log;
  ASSERT_EQ(train({corpus_config(dir, {"train.max_updates=5"}), dir + "/run", false, 0}, log).at("status"), "finished");
  const auto out = dir + "/out.txt";
  const auto command = fmt::format("printf 'a b c\\n\\377\\376\\n' | '{}' translate --run '{}/run' > '{}' 2>&1", HEADCOUNT_BINARY,
                                   dir, out);
  EXPECT_NE(std::system(command.c_str()), 0);
  EXPECT_NE(testing::read_text(out).find("stdin:2: not valid UTF-8 at byte 1 (0xFF)"), std::string::npos)
      << testing::read_text(out);
}

TEST(Reliability, EmptyLinesAreSkippedAndCountedOrRefused) {
  const auto dir = write_corpus(fresh_dir("empty"));
  { std::ofstream(dir + "/train.src", std::ios::app) << "\nx y\n"; }
  { std::ofstream(dir + "/train.tgt", std::ios::app) << "z\n\n"; }
  std::ostringstream log;
  const auto summary = train({corpus_config(dir, {"train.max_updates=2"}), dir + "/run", false, 0}, log);
  ASSERT_EQ(summary.at("status"), "finished") << log.str();
  EXPECT_NE(log.str().find("data: 200 train"), std::string::npos) << log.str();  // neither pair trained on
  EXPECT_NE(log.str().find("2 pairs with an empty line left out of " + dir + "/train (the first at " + dir + "/train.src:201)"),
            std::string::npos)
      << log.str();
  const auto message = error_of([&] {
    train({corpus_config(dir, {"train.max_updates=2", "data.bad_lines=error"}), dir + "/strict", false, 0}, log);
  });
  EXPECT_NE(message.find(dir + "/train.src:201: an empty line (set data.bad_lines: skip to leave such pairs out)"),
            std::string::npos)
      << message;
  // An empty corpus says so, not that no example is short enough.
  const auto none = fresh_dir("none");
  for (const char* name : {"train", "valid", "test"})
    for (const char* side : {"src", "tgt"}) std::ofstream(none + "/" + name + "." + side);
  EXPECT_NE(error_of([&] { train({corpus_config(none), none + "/run", false, 0}, log); }).find("no sentence pair in " + none + "/train.src"),
            std::string::npos);
}

TEST(Reliability, TornLastCheckpointFallsBackToThePreviousOne) {
  const auto dir = write_corpus(fresh_dir("torn"));
  const auto config = corpus_config(dir);
  std::ostringstream log;
  // Checkpoints at updates 5, 10 and 15; "killed" at 16.
  ASSERT_EQ(train({config, dir + "/run", false, 16}, log).at("status"), "interrupted");
  ASSERT_TRUE(fs::exists(dir + "/run/checkpoint_last.previous.pt"));
  const auto best = testing::read_text(dir + "/run/checkpoint_best.pt");
  {  // the newest cut in half, as a lost flush leaves it
    const auto size = fs::file_size(dir + "/run/checkpoint_last.pt");
    fs::resize_file(dir + "/run/checkpoint_last.pt", size / 2);
  }
  const auto resumed = train({config, dir + "/run", true, 0}, log);
  EXPECT_EQ(resumed.at("status"), "finished");
  EXPECT_NE(log.str().find(dir + "/run/checkpoint_last.pt cannot be read"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("resuming from the checkpoint before it, " + dir + "/run/checkpoint_last.previous.pt"),
            std::string::npos);
  EXPECT_NE(log.str().find("resuming " + dir + "/run at update 10"), std::string::npos) << log.str();
  // The resumed run's losses are the uninterrupted one's.
  ASSERT_EQ(train({config, dir + "/whole", false, 0}, log).at("status"), "finished");
  const auto a = train_losses(dir + "/whole"), b = train_losses(dir + "/run");
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << "update " << i + 1;
  EXPECT_FALSE(best.empty());
}

TEST(Reliability, FullDiskEndsTheRunClearlyAndKeepsTheLastGoodCheckpoint) {
  const auto dir = write_corpus(fresh_dir("full"));
  const auto config_path = dir + "/config.yaml";
  std::ofstream(config_path) << to_yaml(corpus_config(dir));
  std::ostringstream log;
  // A first part with room: checkpoints up to update 10 (killed at 12).
  ASSERT_EQ(train({load_config(config_path, {}), dir + "/run", false, 12}, log).at("status"), "interrupted");
  const auto good = testing::read_text(dir + "/run/checkpoint_last.pt");
  const auto best = testing::read_text(dir + "/run/checkpoint_best.pt");
  const auto metrics = testing::read_text(dir + "/run/metrics.jsonl");
  // Then a file size limit below a checkpoint's size (ulimit -f, in 1 KiB blocks in sh): its
  // next checkpoint cannot be written, as on a full disk.
  const auto limit = std::max<uintmax_t>(8, fs::file_size(dir + "/run/checkpoint_last.pt") / 1024 / 2);
  const auto out = dir + "/full.log";
  const auto command = fmt::format("sh -c \"trap '' XFSZ; ulimit -f {}; exec '{}' --threads 1 train --config '{}' --out '{}/run' "
                                   "--resume\" > '{}' 2>&1",
                                   limit, HEADCOUNT_BINARY, config_path, dir, out);
  EXPECT_NE(std::system(command.c_str()), 0);
  const auto said = testing::read_text(out);
  // The first checkpoint due after update 12, at the dev evaluation of update 15: the best
  // where that evaluation is a new best, else the last (which the dropout draws decide).
  EXPECT_TRUE(said.find(dir + "/run/checkpoint_best.pt: cannot write it (") != std::string::npos ||
              said.find(dir + "/run/checkpoint_last.pt: cannot write it (") != std::string::npos)
      << said;
  EXPECT_NE(said.find("); the file that was there is unchanged"), std::string::npos) << said;
  // Nothing earlier is lost: the good checkpoint is whole, the run resumes once there is room.
  EXPECT_EQ(testing::read_text(dir + "/run/checkpoint_last.pt"), good);
  EXPECT_EQ(testing::read_text(dir + "/run/checkpoint_best.pt"), best);
  EXPECT_FALSE(fs::exists(dir + "/run/checkpoint_last.pt.partial"));
  EXPECT_FALSE(fs::exists(dir + "/run/checkpoint_best.pt.partial"));
  EXPECT_EQ(train({load_config(config_path, {}), dir + "/run", true, 0}, log).at("status"), "finished");
  EXPECT_EQ(train_losses(dir + "/run").size(), 20u);
  EXPECT_EQ(metrics.substr(0, 100), testing::read_text(dir + "/run/metrics.jsonl").substr(0, 100));
}

TEST(Reliability, OneTrainerPerRunFolderAndStaleLocksDoNotBlock) {
  const auto dir = write_corpus(fresh_dir("lock"));
  {
    RunLock held(RunFolder(dir + "/run").lock());
    std::ostringstream log;
    const auto message = error_of([&] { train({corpus_config(dir), dir + "/run", false, 0}, log); });
    EXPECT_NE(message.find(dir + "/run is being trained by process " + std::to_string(getpid()) + " on "), std::string::npos)
        << message;
    EXPECT_FALSE(fs::exists(dir + "/run/config.yaml"));  // refused before writing anything
  }
  // A lock file left by a process that died: the kernel dropped its lock with it.
  const pid_t child = fork();
  if (child == 0) {
    RunLock taken(RunFolder(dir + "/run").lock());
    _exit(0);  // dies holding it
  }
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(fs::exists(dir + "/run/lock"));
  std::ostringstream log;
  EXPECT_EQ(train({corpus_config(dir, {"train.max_updates=3"}), dir + "/run", false, 0}, log).at("status"), "finished");
}

TEST(Reliability, HangupStopsTrainingCleanlyAndResumes) {
  const auto dir = write_corpus(fresh_dir("hangup"));
  const auto config_path = dir + "/config.yaml";
  std::ofstream(config_path) << to_yaml(corpus_config(dir, {"train.max_updates=100000", "train.valid_every=100000"}));
  const auto log_path = dir + "/train.log";
  const pid_t pid = start_process({HEADCOUNT_BINARY, "--threads", "1", "train", "--config", config_path, "--out", dir + "/run"},
                                  log_path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (read_metrics(dir + "/run/metrics.jsonl").size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(pid, SIGHUP);
  EXPECT_EQ(wait_for_process(pid), 128 + SIGHUP) << testing::read_text(log_path);
  EXPECT_TRUE(fs::exists(dir + "/run/checkpoint_last.pt"));
  EXPECT_NE(testing::read_text(log_path).find("stopped on request at update"), std::string::npos);
}

TEST(Reliability, CompareKillsARunThatIgnoresSigtermAfterItsGrace) {
  const auto dir = fresh_dir("grace");
  // A "trainer" that ignores SIGTERM and never ends.
  const auto program = dir + "/stubborn.sh";
  std::ofstream(program) << "#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.1; done\n";
  fs::permissions(program, fs::perms::owner_all);
  write_corpus(dir);
  std::ofstream(dir + "/task.yaml") << to_yaml(corpus_config(dir));
  std::ofstream(dir + "/preset.yaml") << "description: grace\nconfig: " << dir << "/task.yaml\nheads: [1]\nschemes: [post-ln]\n";
  CompareRequest request;
  request.preset = dir + "/preset.yaml";
  request.out = dir + "/study";
  request.program = program;
  request.threads = 1;
  request.stop_grace_seconds = 1;
  const auto start = std::chrono::steady_clock::now();
  request.stop_requested = [&] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(500); };
  std::ostringstream log;
  compare(request, log);
  const auto killed = dir + "/study/runs/2L-2H-post-ln-s1/killed.txt";
  ASSERT_TRUE(fs::exists(killed)) << log.str();
  EXPECT_NE(testing::read_text(killed).find("did not stop within 1 s of the stop request's SIGTERM: killed"), std::string::npos);
  EXPECT_NE(log.str().find("2L-2H-post-ln-s1: did not stop within 1 s"), std::string::npos) << log.str();
}

// SIGKILL at random moments (seeded), each followed by --resume: the finished run's train
// losses are the uninterrupted run's, for seq2seq and masked-LM.
void kill_and_resume(const std::string& dir, const std::string& config_path) {
  const auto run = dir + "/killed";
  const auto log_path = dir + "/killed.log";
  std::mt19937 random(42);
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> command{HEADCOUNT_BINARY, "--threads", "1", "train", "--config", config_path, "--out", run};
    if (round > 0) command.push_back("--resume");
    const pid_t pid = start_process(command, log_path);
    const size_t lines = read_metrics(run + "/metrics.jsonl").size() + 3 + random() % 8;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (read_metrics(run + "/metrics.jsonl").size() < lines && waitpid(pid, nullptr, WNOHANG) == 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + random() % 20));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  ASSERT_EQ(wait_for_process(start_process({HEADCOUNT_BINARY, "--threads", "1", "train", "--config", config_path, "--out",
                                            run, "--resume"},
                                           log_path)),
            0)
      << testing::read_text(log_path);
  // The uninterrupted run with the same thread count: LibTorch 2.x's CPU sums split their
  // work by thread, so the logged losses of runs with 1 and 2 threads may differ in the last
  // bits (the masked-LM loss's sum over tokens does).
  ASSERT_EQ(wait_for_process(start_process({HEADCOUNT_BINARY, "--threads", "1", "train", "--config", config_path, "--out",
                                            dir + "/whole"},
                                           dir + "/whole.log")),
            0)
      << testing::read_text(dir + "/whole.log");
  const auto a = train_losses(dir + "/whole"), b = train_losses(run);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 0u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << "line " << i + 1;
}

TEST(Reliability, RunsKilledAtRandomMomentsResumeIntoTheUninterruptedLosses) {
  const auto dir = write_corpus(fresh_dir("sigkill"));
  const auto config_path = dir + "/config.yaml";
  std::ofstream(config_path) << to_yaml(corpus_config(dir, {"train.max_updates=60", "train.valid_every=4"}));
  kill_and_resume(dir, config_path);
}

TEST(Reliability, MaskedLmRunsKilledAtRandomMomentsResumeIntoTheUninterruptedLosses) {
  const auto dir = fresh_dir("sigkill_mlm");
  {
    std::mt19937 random(3);
    std::ofstream corpus(dir + "/corpus.txt");
    for (int d = 0; d < 40; ++d) {
      for (int w = 0; w < 30; ++w) corpus << (w ? " " : "") << "w" << random() % 30;
      corpus << "\n\n";
    }
  }
  const auto config_path = dir + "/config.yaml";
  std::ofstream(config_path) << to_yaml(load_config(
      "", {"model.architecture=encoder", "model.d_model=16", "model.encoder.layers=2", "model.encoder.heads=2",
           "model.encoder.ffn_dim=32", "model.max_positions=24", "data.task=masked-lm", "data.train_file=" + dir + "/corpus.txt",
           "data.valid_file=" + dir + "/corpus.txt", "data.vocab_size=40", "data.max_length=16", "data.max_tokens=128",
           "train.lr=0.003", "train.warmup_updates=4", "train.log_every=1", "train.valid_every=4", "train.max_updates=60",
           "train.label_smoothing=0"}));
  kill_and_resume(dir, config_path);
}

}  // namespace
}  // namespace headcount
