// Opening an existing run folder for the commands that use a trained model.
#pragma once

#include <string>

#include <memory>

#include "config/run_config.h"
#include "model/transformer.h"
#include "runtime/runtime.h"
#include "task/task.h"

namespace headcount {

struct OpenedRun {
  RunConfig config;
  Runtime runtime;
  std::unique_ptr<Task> task;  // not loaded
  Transformer model{nullptr};  // in eval mode, on the runtime's device
  std::string checkpoint_path;
};

// which: "best", "last" or "average"; throws naming the missing file.
OpenedRun open_run(const std::string& run_dir, const std::string& which);

}  // namespace headcount
