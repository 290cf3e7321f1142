// Opening an existing run folder for the commands that use a trained model.
#pragma once

#include <string>

#include "config/run_config.h"
#include "model/transformer.h"

namespace headcount {

struct OpenedRun {
  RunConfig config;
  Transformer model{nullptr};
  std::string checkpoint_path;
};

// which: "best", "last" or "average"; throws naming the missing file.
OpenedRun open_run(const std::string& run_dir, const std::string& which);

}  // namespace headcount
