// Opening an existing run folder for the commands that use a trained model.
#pragma once

#include <string>

#include <memory>

#include "config/run_config.h"
#include "model/transformer.h"
#include "run/run_folder.h"
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

// Throws naming the missing file. device: where to
// load it (auto, cpu, cuda, cuda:N); empty: the run's own train.device, so a run trained
// on a GPU can be used on a machine without one by passing cpu.
OpenedRun open_run(const std::string& run_dir, CheckpointChoice which, const std::string& device = "");

}  // namespace headcount
