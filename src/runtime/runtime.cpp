#include "runtime/runtime.h"

#include <fmt/format.h>

#include <stdexcept>

#include "util/enum_names.h"

namespace headcount {

namespace {
constexpr NamedValue<Precision> kPrecisions[] = {{Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}};
}  // namespace

std::string to_string(Precision precision) { return name_of(kPrecisions, precision); }
Precision parse_precision(const std::string& name) { return parse_named(kPrecisions, name, "precision"); }

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
