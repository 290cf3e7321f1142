#include "runtime/runtime.h"

#include <fmt/format.h>

#include <stdexcept>

namespace headcount {

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
    case Precision::Fp16: return "fp16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  for (auto p : {Precision::Fp32, Precision::Bf16, Precision::Fp16})
    if (to_string(p) == name) return p;
  throw std::invalid_argument(fmt::format("unknown precision '{}': expected fp32, bf16 or fp16", name));
}

std::string Runtime::describe() const { return fmt::format("{}, {}", device.str(), to_string(precision)); }

Runtime make_runtime(const std::string& device, Precision precision) {
  if (device != "cpu")
    throw std::invalid_argument(fmt::format("device '{}' is not available: this version trains on the cpu only", device));
  if (precision != Precision::Fp32)
    throw std::invalid_argument(
        fmt::format("precision '{}' is not available: this version computes in fp32 only", to_string(precision)));
  return Runtime{torch::Device(torch::kCPU), precision};
}

}  // namespace headcount
