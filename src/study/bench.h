// What `headcount bench` measures, as one typed request: a training update or a decoding
// call of a StepShape, in rounds (each timing the PyTorch-eager reference when asked, then
// this shape, then the --against shape when given), and the result as one JSON object of
// medians over the rounds (docs/benchmarks.md lists its fields). The CLI parses and prints.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/runtime.h"
#include "study/step_shape.h"

namespace headcount {

enum class BenchMode { Train, Decode };
std::string to_string(BenchMode mode);
BenchMode parse_bench_mode(const std::string& name);  // throws std::invalid_argument

// A shape with the name the output shows ("demo-deep", "demo-deep, changed", "custom").
struct NamedShape {
  std::string name;
  StepShape shape;
};

struct BenchRequest {
  BenchMode mode = BenchMode::Train;
  NamedShape shape;
  std::optional<NamedShape> against;  // timed in the same rounds, on the same batches
  Runtime runtime;                    // device and precision
  int64_t rounds = 1;
  bool reference = false;  // also the PyTorch-eager reference (training, post-ln only)
  bool skip_peak = false;  // no peak probe (peak_gflops and mfu 0): for instruction counters
  std::string python = "python3", reference_script;  // empty script: found next to the program
};

// Throws std::invalid_argument for a request the reference cannot mirror (decoding, or a
// scheme other than post-ln) and std::runtime_error when the reference script is missing.
// A reference that fails while running is reported in the result (reference_error).
nlohmann::json run_bench(const BenchRequest& request);

// The middle value (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> values);

}  // namespace headcount
