// Where this process sits in a data-parallel group, and how it found out: the launch
// contract, in the order the ecosystem has it.
//   1. explicit config: train.world_size > 1 with train.rank (and train.local_rank,
//      train.master_addr, train.master_port), e.g. --set train.rank=3 per process;
//   2. torchrun (or any launcher with its variables): RANK, WORLD_SIZE, LOCAL_RANK,
//      LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; with TORCHELASTIC_USE_AGENT_STORE=True
//      torchrun's agent already serves the TCPStore, so every rank joins it as a client,
//      under the prefix torchrun's Python side uses;
//   3. Slurm (srun): SLURM_PROCID, SLURM_STEP_NUM_TASKS (else SLURM_NTASKS), SLURM_LOCALID,
//      SLURM_STEP_TASKS_PER_NODE, the first host of SLURM_STEP_NODELIST as master, as
//      fairseq maps it; the port MASTER_PORT, else train.master_port;
//   4. else train.processes: rank 0 starts the other ranks on this machine (train_command).
// The rendezvous is always a c10d TCPStore at master_addr:master_port, served by rank 0
// (or torchrun's agent). Resolving reads the environment through a lookup function, so the
// tests can give it a made-up one.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "config/run_config.h"

namespace headcount {

// Who started this process's group (step 1-4 above), or no group at all.
enum class Launcher { SingleProcess, Config, Torchrun, Slurm, TrainProcesses };
std::string to_string(Launcher launcher);  // "single process", "config", "torchrun", "slurm", "train.processes"

struct LaunchPlan {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;  // among the ranks of this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 0;        // 0: rank 0 lets the system choose (train.processes only)
  bool agent_store = false;   // torchrun's agent serves the store: rank 0 is a client too
  std::string store_prefix;   // keys of this group in the store
  Launcher launcher = Launcher::SingleProcess;

  bool distributed() const { return world_size > 1; }
  std::string describe() const;  // "rank 1 of 4 (local 1 of 2), torchrun, master node1:29500"
};

using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process's own environment.
std::optional<std::string> process_environment(const std::string& name);

// Throws ConfigError naming the variable or key that is missing or malformed.
LaunchPlan resolve_launch(const TrainConfig& train, const EnvironmentLookup& environment = process_environment);

// The first host of a Slurm node list: "gpu[07-12,20],cpu1" -> "gpu07".
std::string first_slurm_host(const std::string& node_list);

// The variables a rank started by train.processes finds, as torchrun would set them.
std::vector<std::string> launch_environment(const LaunchPlan& plan, int rank);

}  // namespace headcount
