// The launch contract (train/launch.h): explicit config, torchrun's variables, Slurm's,
// then train.processes, resolved from made-up environments.
#include <gtest/gtest.h>

#include <map>

#include "config/run_config.h"
#include "train/launch.h"

namespace headcount {
namespace {

EnvironmentLookup environment(std::map<std::string, std::string> variables) {
  return [variables](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

TrainConfig train_config(const std::vector<std::string>& overrides = {}) { return load_config("", overrides).train; }

TEST(Launch, NothingSetIsOneProcess) {
  const auto plan = resolve_launch(train_config(), environment({}));
  EXPECT_FALSE(plan.distributed());
  EXPECT_EQ(plan.rank, 0);
  EXPECT_EQ(plan.world_size, 1);
}

TEST(Launch, TrainProcessesStartsRanksOnLoopbackWithAPortTheSystemChooses) {
  const auto plan = resolve_launch(train_config({"train.processes=3"}), environment({}));
  EXPECT_EQ(to_string(plan.launcher), "train.processes");
  EXPECT_EQ(plan.world_size, 3);
  EXPECT_EQ(plan.local_world_size, 3);
  EXPECT_EQ(plan.rank, 0);
  EXPECT_EQ(plan.master_addr, "127.0.0.1");
  EXPECT_EQ(plan.master_port, 0);
  // What the ranks it starts find: torchrun's variables, which resolve back to the group.
  auto variables = std::map<std::string, std::string>{};
  auto started = plan;
  started.master_port = 41000;
  for (const auto& entry : launch_environment(started, 2))
    variables[entry.substr(0, entry.find('='))] = entry.substr(entry.find('=') + 1);
  const auto rank2 = resolve_launch(train_config(), environment(variables));
  EXPECT_EQ(rank2.rank, 2);
  EXPECT_EQ(rank2.local_rank, 2);
  EXPECT_EQ(rank2.world_size, 3);
  EXPECT_EQ(rank2.master_port, 41000);
  EXPECT_FALSE(rank2.agent_store);
}

TEST(Launch, TorchrunsVariablesWithItsAgentStore) {
  const auto plan = resolve_launch(
      train_config(), environment({{"RANK", "5"}, {"WORLD_SIZE", "16"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "8"},
                                   {"MASTER_ADDR", "node3"}, {"MASTER_PORT", "29400"},
                                   {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"},
                                   // Slurm's too, as under srun torchrun: torchrun's come first
                                   {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_STEP_NODELIST", "node[3-4]"}}));
  EXPECT_EQ(to_string(plan.launcher), "torchrun");
  EXPECT_EQ(plan.rank, 5);
  EXPECT_EQ(plan.world_size, 16);
  EXPECT_EQ(plan.local_rank, 1);
  EXPECT_EQ(plan.local_world_size, 8);
  EXPECT_EQ(plan.master_addr, "node3");
  EXPECT_EQ(plan.master_port, 29400);
  EXPECT_TRUE(plan.agent_store);
  EXPECT_EQ(plan.store_prefix, "/worker/attempt_2");
}

TEST(Launch, SlurmsVariablesAsFairseqMapsThem) {
  const auto plan = resolve_launch(
      train_config({"train.master_port=13579"}),
      environment({{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "8"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_LOCALID", "2"},
                   {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"}, {"SLURM_STEP_NODELIST", "gpu[07-08]"}}));
  EXPECT_EQ(to_string(plan.launcher), "slurm");
  EXPECT_EQ(plan.rank, 6);
  EXPECT_EQ(plan.world_size, 8);
  EXPECT_EQ(plan.local_rank, 2);
  EXPECT_EQ(plan.local_world_size, 4);
  EXPECT_EQ(plan.master_addr, "gpu07");
  EXPECT_EQ(plan.master_port, 13579);  // no MASTER_PORT: the config's
  EXPECT_FALSE(plan.agent_store);
}

TEST(Launch, FirstHostOfASlurmNodeList) {
  EXPECT_EQ(first_slurm_host("node17"), "node17");
  EXPECT_EQ(first_slurm_host("gpu[07-12,20],cpu1"), "gpu07");
  EXPECT_EQ(first_slurm_host("a,b[1-2]"), "a");
  EXPECT_EQ(first_slurm_host("rack[3,5]-n[01-04]"), "rack3-n01");
  EXPECT_THROW(first_slurm_host(""), ConfigError);
  EXPECT_THROW(first_slurm_host("gpu[07-12"), ConfigError);
}

TEST(Launch, ExplicitConfigComesFirst) {
  const auto plan = resolve_launch(
      train_config({"train.world_size=4", "train.rank=3", "train.local_rank=1", "train.master_addr=10.0.0.2",
                    "train.master_port=40000"}),
      environment({{"RANK", "0"}, {"WORLD_SIZE", "2"}}));
  EXPECT_EQ(to_string(plan.launcher), "config");
  EXPECT_EQ(plan.rank, 3);
  EXPECT_EQ(plan.world_size, 4);
  EXPECT_EQ(plan.local_rank, 1);
  EXPECT_EQ(plan.master_addr, "10.0.0.2");
  EXPECT_EQ(plan.master_port, 40000);
}

TEST(Launch, BadVariablesAreErrorsNamingThem) {
  auto message = [](const TrainConfig& t, std::map<std::string, std::string> variables) {
    try {
      resolve_launch(t, environment(std::move(variables)));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(train_config(), {{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK is 'x'"), std::string::npos);
  EXPECT_NE(message(train_config(), {{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("rank 2 is not below the world size 2"),
            std::string::npos);
  EXPECT_NE(message(train_config(), {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}).find("70000"),
            std::string::npos);
  // train.processes starts ranks only where no launcher does.
  EXPECT_NE(message(train_config({"train.processes=2"}), {{"RANK", "0"}, {"WORLD_SIZE", "2"}}).find("set it to 1"),
            std::string::npos);
}

}  // namespace
}  // namespace headcount
