// The PyTorch-eager reference (bench/reference_step.py: the training step a user would
// write instead) run as a child process on a StepShape, for `headcount bench --reference`.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/runtime.h"
#include "study/step_shape.h"

namespace headcount {

struct ReferenceTiming {
  int64_t parameters = 0;
  double step_ms = 0;
  double tokens_per_s = 0;
};

// The script next to the program (../bench/ from build/), else ./bench/reference_step.py;
// empty when neither exists.
std::string find_reference_script(const std::string& program_path);

// Runs `python script` on the shape with `threads` threads on the runtime's device and
// precision. Throws std::runtime_error with the end of the script's output when it fails
// (for instance a Python without torch: pass one that has it).
ReferenceTiming run_reference_step(const StepShape& shape, int threads, const Runtime& runtime,
                                   const std::string& python, const std::string& script);

}  // namespace headcount
