#include "cli/run_access.h"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "model/checkpoint.h"
#include "task/task_factory.h"

namespace headcount {

OpenedRun open_run(const std::string& run_dir, CheckpointChoice which, const std::string& device) {
  if (!std::filesystem::is_directory(run_dir)) throw std::runtime_error(fmt::format("{}: no such run folder", run_dir));
  const RunFolder folder(run_dir);
  OpenedRun run;
  const auto config_path = folder.config();
  run.config = load_config(config_path, {});
  if (!device.empty()) run.config.train.device = device;
  // A run trained in fp16 on a GPU is used in bf16 where there is no GPU.
  auto& precision = run.config.train.precision;
  if (precision == Precision::Fp16 && make_runtime(run.config.train.device, Precision::Fp32).device.is_cpu())
    precision = Precision::Bf16;
  run.runtime = make_runtime(run.config.train.device, precision);
  run.task = make_task(run.config, run.runtime, config_path);
  run.checkpoint_path = folder.checkpoint(which);
  run.model = load_checkpoint(run.checkpoint_path, run.runtime.device).model;
  run.model->eval();
  return run;
}

}  // namespace headcount
