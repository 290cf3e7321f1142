// Speed of one training update and of one decoding call on a StepShape, measured the way
// bench/reference_step.py measures the PyTorch-eager reference: random tokens, fixed batch
// shape, Adam, label-smoothed cross-entropy, two warm-up calls, then the mean of `steps` updates;
// and the machine's own matrix-product peak (the best of three timed spells), to put them against.
#pragma once

#include <cstdint>

#include "runtime/runtime.h"
#include "study/step_shape.h"

namespace headcount {

struct StepTiming {
  int64_t parameters = 0;
  double step_ms = 0;       // per update (training) or per batch encoded and decoded
  double tokens_per_s = 0;  // target tokens a second (training) or output tokens (decoding)
  double gflops = 0;        // matrix-product work done a second (study/step_shape.h)
  // Resident memory of the process: after the warm-up, after the timed calls, and its peak.
  double resident_after_warmup_mib = 0, resident_at_end_mib = 0, peak_resident_mib = 0;
  double peak_device_memory_mib = 0;  // GPU only: the allocator's peak so far (runtime/runtime.h)
};

// On the runtime's device, in its precision (autocast around forward and loss; fp16 with
// a loss scaler), as the reference does given the same device and precision.
StepTiming measure_training_step(const StepShape& shape, const Runtime& runtime = {});

// Encodes shape.batch random sentences of shape.source_length tokens and decodes as many
// tokens greedily (incremental state, no early stop), under the runtime's precision: the
// median of `steps` calls after a warm-up (study/inference_speed.h).
StepTiming measure_decoding(const StepShape& shape, const Runtime& runtime = {});

// The best GFLOP/s of a large square matrix product in the runtime's precision (fp32, or
// bf16/fp16 tensors) on its device and threads, through LibTorch's mm and through the
// linear layers' own product, whichever is faster: the peak an MFU figure is a fraction of.
double measure_matmul_peak_gflops(const Runtime& runtime);

}  // namespace headcount
