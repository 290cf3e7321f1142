// The one place that maps data.task to a Task class.
#pragma once

#include <memory>

#include "config/run_config.h"
#include "runtime/runtime.h"
#include "task/task.h"

namespace headcount {

// Checks the task's own keys (throws ConfigError listing every problem; where: the config
// file or "config", for the message) and makes the task; no data is read until load().
std::unique_ptr<Task> make_task(const RunConfig& config, const Runtime& runtime, const std::string& where = "config");

// The task's problems with config, one message each (empty: sound). make_task throws them.
std::vector<std::string> task_problems(const RunConfig& config);

}  // namespace headcount
