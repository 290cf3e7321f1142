// Data-parallel training as launchers start it (train/launch.h): torch's own elastic agent
// (the one behind torchrun) starting two ranks on one node and one rank on each of two
// "nodes" on loopback, against one process trained on the same global batches; and a rank
// that dies or hangs ending the other with a message within train.collective_timeout.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/run_config.h"
#include "model/checkpoint.h"
#include "reversal_corpus.h"
#include "test_support.h"
#include "train/data_parallel.h"
#include "run/run_folder.h"
#include "train/trainer.h"
#include "util/process.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kPython = HEADCOUNT_LAUNCHER_PYTHON;  // CMake's HEADCOUNT_LAUNCHER_PYTHON

bool has_elastic_agent() {
  return std::system(fmt::format("{} -c 'import torch.distributed.launcher.api' > /dev/null 2>&1", kPython).c_str()) == 0;
}

// A port nobody listens on now (the system's choice for a socket bound to port 0).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!data_parallel_available()) GTEST_SKIP() << "built without Gloo's headers";
    dir_ = testing::fresh_dir("hc_distributed", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    corpus_ = testing::write_reversal_corpus(dir_ + "/corpus", 300, 30, 20, 7);
  }
  // The config file every rank reads; extra overrides after the shared ones.
  std::string write_config(const std::string& name, const std::vector<std::string>& extra) const {
    std::vector<std::string> overrides{
        "data.task=parallel", "data.train_prefix=" + corpus_ + "/train", "data.valid_prefix=" + corpus_ + "/valid",
        "data.test_prefix=" + corpus_ + "/test", "data.max_tokens=200", "model.d_model=16", "model.encoder.layers=2",
        "model.encoder.heads=2", "model.encoder.ffn_dim=32", "model.decoder.layers=2", "model.decoder.heads=2",
        "model.decoder.ffn_dim=32", "model.dropout=0", "model.max_positions=64", "data.max_length=40",
        "train.lr=0.003", "train.warmup_updates=5", "train.log_every=1", "train.valid_every=4",
        "train.valid_decode_limit=10", "train.max_updates=12", "eval.beam=2", "eval.max_length_b=12",
        "train.device=cpu"};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    const auto path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << to_yaml(load_config("", overrides));
    return path;
  }
  // One process on the global batches of two ranks: update_freq 2.
  std::string train_single() const {
    const auto out = dir_ + "/single";
    std::ostringstream log;
    const auto summary = train({load_config(write_config("single", {"train.update_freq=2"}), {}), out, false, 0}, log);
    EXPECT_EQ(summary.at("status"), "finished") << log.str();
    return out;
  }
  std::vector<std::string> agent_command(int nnodes, int node_rank, int nproc, int port, const std::string& config,
                                         const std::string& out) const {
    return {kPython, std::string(HEADCOUNT_SOURCE_DIR) + "/tests/elastic_launch.py", std::to_string(nnodes),
            std::to_string(node_rank), std::to_string(nproc), std::to_string(port), HEADCOUNT_BINARY, "--threads", "1",
            "train", "--config", config, "--out", out};
  }
  std::string dir_, corpus_;
};

// Every parameter of the two runs' last checkpoints within 1e-5.
void expect_same_weights(const std::string& a, const std::string& b) {
  const auto first = load_checkpoint(a + "/checkpoint_last.pt").model, second = load_checkpoint(b + "/checkpoint_last.pt").model;
  const auto theirs = second->named_parameters();
  size_t compared = 0;
  for (const auto& p : first->named_parameters()) {
    const auto& q = theirs[p.key()];
    EXPECT_LE((p.value() - q).abs().max().item<double>(), 1e-5) << p.key();
    ++compared;
  }
  EXPECT_GT(compared, 10u);
}

TEST_F(Distributed, ElasticAgentStartsTwoRanksThatEndWhereOneProcessDoes) {
  if (!has_elastic_agent()) GTEST_SKIP() << kPython << " has no torch.distributed (Debian: python3-torch)";
  const auto single = train_single();
  const auto out = dir_ + "/agent";
  const auto log = dir_ + "/agent.log";
  const auto command = agent_command(1, 0, 2, free_port(), write_config("agent", {}), out);
  ASSERT_EQ(wait_for_process(start_process(command, log)), 0) << testing::read_text(log);
  const auto text = testing::read_text(log);
  EXPECT_NE(text.find("rank 0 of 2 (local 0 of 2), torchrun"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1: finished after 12 updates"), std::string::npos) << text;
  EXPECT_EQ(read_json_file(out + "/summary.json").at("processes"), 2);
  expect_same_weights(single, out);
}

TEST_F(Distributed, ElasticAgentsOfTwoNodesOnLoopbackTrainAsOneGroup) {
  if (!has_elastic_agent()) GTEST_SKIP() << kPython << " has no torch.distributed (Debian: python3-torch)";
  const auto single = train_single();
  const auto out = dir_ + "/nodes";
  const auto config = write_config("nodes", {});
  const int port = free_port();
  const pid_t node0 = start_process(agent_command(2, 0, 1, port, config, out), dir_ + "/node0.log");
  const pid_t node1 = start_process(agent_command(2, 1, 1, port, config, out), dir_ + "/node1.log");
  EXPECT_EQ(wait_for_process(node1), 0) << testing::read_text(dir_ + "/node1.log");
  ASSERT_EQ(wait_for_process(node0), 0) << testing::read_text(dir_ + "/node0.log");
  EXPECT_NE(testing::read_text(dir_ + "/node1.log").find("rank 1 of 2 (local 0 of 1)"), std::string::npos);
  expect_same_weights(single, out);
}

// Two ranks started by hand with torchrun's variables (no agent: rank 0 serves the store).
struct Ranks {
  pid_t pids[2];
  std::string logs[2];
};

Ranks start_two_ranks(const std::string& config, const std::string& out, const std::string& dir) {
  LaunchPlan plan;
  plan.world_size = plan.local_world_size = 2;
  plan.master_port = free_port();
  Ranks ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.logs[r] = fmt::format("{}/rank{}.log", dir, r);
    ranks.pids[r] = start_process({HEADCOUNT_BINARY, "--threads", "1", "train", "--config", config, "--out", out},
                                  ranks.logs[r], false, launch_environment(plan, r));
  }
  return ranks;
}

// Rank 0's exit status once it ends, and the seconds it took after `since`; fails the test
// (and kills it) past the deadline.
std::pair<int, double> wait_with_deadline(pid_t pid, Clock::time_point since, double deadline_s) {
  while (true) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      const double took = std::chrono::duration<double>(Clock::now() - since).count();
      return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), took};
    }
    if (std::chrono::duration<double>(Clock::now() - since).count() > deadline_s) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      ADD_FAILURE() << "still running after " << deadline_s << " s";
      return {-1, deadline_s};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void wait_for_updates(const std::string& out, size_t lines, const Ranks& ranks) {
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  while (read_metrics(out + "/metrics.jsonl").size() < lines) {
    ASSERT_LT(Clock::now(), deadline) << testing::read_text(ranks.logs[0]) << testing::read_text(ranks.logs[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST_F(Distributed, ARankThatDiesEndsTheOtherWithAMessage) {
  const auto config = write_config("dies", {"train.max_updates=100000", "train.valid_every=20", "train.collective_timeout=30"});
  const auto out = dir_ + "/dies";
  const auto ranks = start_two_ranks(config, out, dir_);
  wait_for_updates(out, 30, ranks);
  kill(ranks.pids[1], SIGKILL);
  const auto killed_at = Clock::now();
  waitpid(ranks.pids[1], nullptr, 0);
  const auto [status, took] = wait_with_deadline(ranks.pids[0], killed_at, 40);
  const auto text = testing::read_text(ranks.logs[0]);
  EXPECT_NE(status, 0) << text;
  EXPECT_LT(took, 30.0);
  EXPECT_NE(text.find("data-parallel rank 0 of 2"), std::string::npos) << text;
  EXPECT_NE(text.find("another rank ended"), std::string::npos) << text;
  EXPECT_NO_THROW(load_checkpoint(out + "/checkpoint_last.pt"));  // the last complete one survives
}

TEST_F(Distributed, ARankThatHangsEndsTheOtherAfterTheCollectiveTimeout) {
  const auto config = write_config("hangs", {"train.max_updates=100000", "train.valid_every=20", "train.collective_timeout=4"});
  const auto out = dir_ + "/hangs";
  const auto ranks = start_two_ranks(config, out, dir_);
  wait_for_updates(out, 30, ranks);
  kill(ranks.pids[1], SIGSTOP);
  const auto stopped_at = Clock::now();
  const auto [status, took] = wait_with_deadline(ranks.pids[0], stopped_at, 60);
  kill(ranks.pids[1], SIGKILL);
  waitpid(ranks.pids[1], nullptr, 0);
  const auto text = testing::read_text(ranks.logs[0]);
  EXPECT_NE(status, 0) << text;
  EXPECT_GE(took, 3.0);  // it waited for the timeout (4 s) ...
  EXPECT_LT(took, 30.0);  // ... and not much longer
  EXPECT_NE(text.find("train.collective_timeout (4 s)"), std::string::npos) << text;
}

TEST_F(Distributed, TwoRanksStoppedResumeAsOneProcessWhereOneProcessWouldBe) {
  // --resume with another number of ranks: the checkpoint holds the position in the
  // epoch's batch list, and an update of one process with update_freq 2 takes the same two
  // batches the two ranks would have.
  const auto single = dir_ + "/single";
  std::ostringstream log;
  const std::vector<std::string> shared{"train.max_updates=60", "train.valid_every=1000"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), shared.begin(), shared.end());
    return extra;
  };
  ASSERT_EQ(train({load_config(write_config("single", with({"train.update_freq=2"})), {}), single, false, 0}, log)
                .at("status"),
            "finished")
      << log.str();
  const auto out = dir_ + "/ranks";
  const auto ranks = start_two_ranks(write_config("ranks", with({})), out, dir_);
  wait_for_updates(out, 20, ranks);
  kill(ranks.pids[0], SIGTERM);  // rank 0 decides for both
  EXPECT_EQ(wait_for_process(ranks.pids[0]), 128 + SIGTERM) << testing::read_text(ranks.logs[0]);
  EXPECT_EQ(wait_for_process(ranks.pids[1]), 0) << testing::read_text(ranks.logs[1]);
  const auto stopped_at = load_checkpoint(out + "/checkpoint_last.pt").extra.at("update").get<int64_t>();
  ASSERT_GE(stopped_at, 20);
  ASSERT_LT(stopped_at, 60);
  const auto resumed = train({load_config(out + "/config.yaml", {"train.update_freq=2"}), out, true, 0}, log);
  EXPECT_EQ(resumed.at("status"), "finished") << log.str();
  EXPECT_EQ(resumed.at("processes"), 1);
  const auto expected = testing::train_losses(single), losses = testing::train_losses(out);
  ASSERT_EQ(losses.size(), 60u);
  ASSERT_EQ(expected.size(), 60u);
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(losses[i], expected[i], 1e-5 * expected[i]) << "update " << i + 1;
  expect_same_weights(single, out);
}

}  // namespace
}  // namespace headcount
