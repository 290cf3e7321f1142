// Mixed precision for a stretch of code, as Python's `with torch.autocast(...)`: inside
// the scope LibTorch runs products (linear, matmul) in the runtime's compute dtype and keeps
// reductions it considers unsafe in fp32; leaving it restores what was set before. A
// runtime in fp32 makes the scope do nothing.
//
// Wrap the forward pass and the loss, never the backward pass (autograd runs each
// backward in the dtype its forward had). The loss functions cast logits to fp32
// themselves: on the CPU autocast leaves softmax in bf16.
//
// LibTorch has no C++ guard of its own, and 2.4 renamed the functions (per device type),
// so the version test lives in autocast.cpp alone.
#pragma once

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

#include "runtime/runtime.h"

namespace headcount {

// Whether autocast is on for the CPU in this thread: the products then belong to it.
bool cpu_autocast_enabled();

class AutocastScope {
 public:
  explicit AutocastScope(const Runtime& runtime);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false, was_caching_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace headcount
