#include "train/launch.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

#include "util/enum_names.h"

namespace headcount {

namespace {

constexpr NamedValue<Launcher> kLaunchers[] = {{Launcher::SingleProcess, "single process"},
                                               {Launcher::Config, "config"},
                                               {Launcher::Torchrun, "torchrun"},
                                               {Launcher::Slurm, "slurm"},
                                               {Launcher::TrainProcesses, "train.processes"}};

// An integer variable or key; throws ConfigError naming it when it is not one.
int to_int(const std::string& text, const std::string& what, int lowest) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < lowest || value > 1 << 24)
    throw ConfigError(fmt::format("{} is '{}': expected a whole number of at least {}", what, text, lowest));
  return static_cast<int>(value);
}

struct Reader {
  const EnvironmentLookup& environment;
  bool has(const std::string& name) const { return environment(name).has_value(); }
  std::string text(const std::string& name, const std::string& fallback = "") const {
    return environment(name).value_or(fallback);
  }
  // The variable as a whole number of at least `lowest`; `fallback` when it is unset (an
  // error without one).
  int number(const std::string& name, int lowest, std::optional<int> fallback = std::nullopt) const {
    const auto value = environment(name);
    if (!value && fallback) return *fallback;
    if (!value) throw ConfigError(fmt::format("the environment variable {} is missing", name));
    return to_int(*value, "the environment variable " + name, lowest);
  }
};

void check_plan(const LaunchPlan& plan, const std::string& source) {
  if (plan.rank >= plan.world_size)
    throw ConfigError(fmt::format("{}: rank {} is not below the world size {}", source, plan.rank, plan.world_size));
  if (plan.local_rank >= plan.local_world_size)
    throw ConfigError(
        fmt::format("{}: local rank {} is not below the local world size {}", source, plan.local_rank, plan.local_world_size));
  if (plan.master_port < 1 || plan.master_port > 65535)
    throw ConfigError(fmt::format("{}: master port {} is not a TCP port (1-65535)", source, plan.master_port));
}

LaunchPlan from_config(const TrainConfig& t) {
  LaunchPlan plan;
  plan.launcher = Launcher::Config;
  plan.world_size = static_cast<int>(t.world_size);
  plan.rank = static_cast<int>(t.rank);
  plan.local_rank = static_cast<int>(t.local_rank >= 0 ? t.local_rank : 0);
  plan.local_world_size = plan.world_size;  // unknown: at most all of them
  plan.master_addr = t.master_addr.empty() ? "127.0.0.1" : t.master_addr;
  plan.master_port = static_cast<int>(t.master_port);
  if (t.rank < 0) throw ConfigError("train.world_size is set, so train.rank must be too (--set train.rank=R per process)");
  check_plan(plan, "train.rank/train.world_size");
  return plan;
}

LaunchPlan from_torchrun(const Reader& env, const TrainConfig& t) {
  LaunchPlan plan;
  plan.launcher = Launcher::Torchrun;
  plan.rank = env.number("RANK", 0);
  plan.world_size = env.number("WORLD_SIZE", 1);
  plan.local_rank = env.number("LOCAL_RANK", 0, 0);
  plan.local_world_size = env.number("LOCAL_WORLD_SIZE", 1, plan.world_size);
  plan.master_addr = env.text("MASTER_ADDR", "127.0.0.1");
  plan.master_port = env.number("MASTER_PORT", 1, static_cast<int>(t.master_port));
  plan.agent_store = env.text("TORCHELASTIC_USE_AGENT_STORE") == "True";
  // As torch.distributed.rendezvous does: the keys of one restart of the job apart.
  if (plan.agent_store) plan.store_prefix = "/worker/attempt_" + env.text("TORCHELASTIC_RESTART_COUNT", "0");
  check_plan(plan, "torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_PORT)");
  return plan;
}

LaunchPlan from_slurm(const Reader& env, const TrainConfig& t) {
  LaunchPlan plan;
  plan.launcher = Launcher::Slurm;
  plan.rank = env.number("SLURM_PROCID", 0);
  plan.world_size = env.has("SLURM_STEP_NUM_TASKS") ? env.number("SLURM_STEP_NUM_TASKS", 1) : env.number("SLURM_NTASKS", 1);
  plan.local_rank = env.number("SLURM_LOCALID", 0, 0);
  // "4(x2),2": the first node's count; the local world size only sets the default threads.
  std::string per_node = env.text("SLURM_STEP_TASKS_PER_NODE", env.text("SLURM_NTASKS_PER_NODE"));
  per_node = per_node.substr(0, per_node.find_first_not_of("0123456789"));
  plan.local_world_size = per_node.empty() ? 1 : std::max(1, to_int(per_node, "SLURM_STEP_TASKS_PER_NODE", 1));
  plan.local_world_size = std::max(plan.local_world_size, plan.local_rank + 1);
  plan.master_addr = env.has("MASTER_ADDR") ? env.text("MASTER_ADDR") : first_slurm_host(env.text("SLURM_STEP_NODELIST"));
  plan.master_port = env.number("MASTER_PORT", 1, static_cast<int>(t.master_port));
  check_plan(plan, "Slurm's environment (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID)");
  return plan;
}

}  // namespace

std::string to_string(Launcher launcher) { return name_of(kLaunchers, launcher); }

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string LaunchPlan::describe() const {
  if (!distributed()) return "single process";
  return fmt::format("rank {} of {} (local {} of {}), {}, master {}:{}", rank, world_size, local_rank, local_world_size,
                     to_string(launcher), master_addr, master_port);
}

LaunchPlan resolve_launch(const TrainConfig& t, const EnvironmentLookup& environment) {
  const Reader env{environment};
  LaunchPlan plan;
  if (t.world_size > 1) {
    plan = from_config(t);
  } else if (env.has("RANK") && env.has("WORLD_SIZE")) {
    plan = from_torchrun(env, t);
  } else if (env.has("SLURM_PROCID") && env.has("SLURM_STEP_NODELIST") &&
             (env.has("SLURM_STEP_NUM_TASKS") || env.has("SLURM_NTASKS"))) {
    plan = from_slurm(env, t);
  } else if (t.processes > 1) {
    plan.launcher = Launcher::TrainProcesses;
    plan.world_size = plan.local_world_size = static_cast<int>(t.processes);
    plan.master_addr = "127.0.0.1";  // every rank on this machine: loopback, no name to resolve
    plan.master_port = 0;
    return plan;
  } else {
    return plan;
  }
  if (plan.distributed() && t.processes > 1)
    throw ConfigError(fmt::format(
        "train.processes is {}, but {} already started {} ranks: train.processes starts ranks on this machine "
        "only when no launcher does; set it to 1",
        t.processes, to_string(plan.launcher), plan.world_size));
  return plan;
}

std::string first_slurm_host(const std::string& node_list) {
  // Hosts are separated by commas outside brackets; a bracket holds numbers and ranges.
  std::string first;
  int depth = 0;
  for (char c : node_list) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  if (first.empty()) throw ConfigError("SLURM_STEP_NODELIST is empty: cannot tell the master host");
  // Each bracket ("[07-12,20]") becomes its first number, zero padding kept.
  std::string host;
  for (size_t at = 0; at < first.size();) {
    const auto open = first.find('[', at);
    if (open == std::string::npos) {
      host += first.substr(at);
      break;
    }
    const auto close = first.find(']', open);
    if (close == std::string::npos)
      throw ConfigError(fmt::format("SLURM_STEP_NODELIST '{}' has an unclosed '['", node_list));
    const std::string range = first.substr(open + 1, close - open - 1);
    const std::string number = range.substr(0, range.find_first_of(",-"));
    if (number.empty()) throw ConfigError(fmt::format("SLURM_STEP_NODELIST '{}': an empty range", node_list));
    host += first.substr(at, open - at) + number;
    at = close + 1;
  }
  return host;
}

std::vector<std::string> launch_environment(const LaunchPlan& plan, int rank) {
  return {fmt::format("RANK={}", rank),
          fmt::format("WORLD_SIZE={}", plan.world_size),
          fmt::format("LOCAL_RANK={}", rank),
          fmt::format("LOCAL_WORLD_SIZE={}", plan.local_world_size),
          "MASTER_ADDR=" + plan.master_addr,
          fmt::format("MASTER_PORT={}", plan.master_port)};
}

}  // namespace headcount
