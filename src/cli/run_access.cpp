#include "cli/run_access.h"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "model/checkpoint.h"

namespace headcount {

OpenedRun open_run(const std::string& run_dir, const std::string& which) {
  const std::filesystem::path dir(run_dir);
  if (!std::filesystem::is_directory(dir)) throw std::runtime_error(fmt::format("{}: no such run folder", run_dir));
  OpenedRun run;
  run.config = load_config((dir / "config.yaml").string(), {});
  if (which != "best" && which != "last" && which != "average")
    throw std::invalid_argument(fmt::format("--checkpoint '{}': expected best, last or average", which));
  run.checkpoint_path = (dir / ("checkpoint_" + which + ".pt")).string();
  run.model = load_checkpoint(run.checkpoint_path).model;
  run.model->eval();
  return run;
}

}  // namespace headcount
