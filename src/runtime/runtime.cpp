#include "runtime/runtime.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <cctype>
#include <stdexcept>

#include "util/enum_names.h"

#if defined(HEADCOUNT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace headcount {

namespace {
constexpr NamedValue<Precision> kPrecisions[] = {{Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}};

// The N of "cuda:N", or -1 for "cuda"; throws for anything else after "cuda".
int cuda_index(const std::string& name) {
  if (name == "cuda") return -1;
  const std::string digits = name.rfind("cuda:", 0) == 0 ? name.substr(5) : "";
  if (digits.empty() || digits.size() > 4)
    throw std::invalid_argument(fmt::format("device '{}' is unknown: expected auto, cpu, cuda or cuda:N", name));
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw std::invalid_argument(fmt::format("device '{}' is unknown: expected auto, cpu, cuda or cuda:N", name));
  return std::stoi(digits);
}
}  // namespace

std::string to_string(Precision precision) { return name_of(kPrecisions, precision); }
Precision parse_precision(const std::string& name) { return parse_named(kPrecisions, name, "precision"); }

torch::ScalarType Runtime::compute_dtype() const {
  switch (precision) {
    case Precision::Bf16: return torch::kBFloat16;
    case Precision::Fp16: return torch::kHalf;
    default: return torch::kFloat;
  }
}

std::string Runtime::describe() const { return fmt::format("{}, {}", device.str(), to_string(precision)); }

std::string Runtime::caveat() const {
#if defined(__x86_64__) && defined(__GNUC__)
  // LibTorch sends bf16 products to oneDNN only when the CPU has AVX-512 (BW, VL, DQ).
  if (device.is_cpu() && precision == Precision::Bf16 && !__builtin_cpu_supports("avx512bw"))
    return "bf16 on a CPU without AVX-512: LibTorch's bf16 products take a slow generic path here (10x slower "
           "than fp32 measured on an AVX2 machine, docs/gpu.md); fp32 trains faster";
#endif
  return "";
}

void check_device_name(const std::string& name) {
  if (name == "auto" || name == "cpu") return;
  cuda_index(name);
}

Runtime make_runtime(const std::string& name, Precision precision, int local_rank) {
  check_device_name(name);
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  Runtime runtime{torch::Device(torch::kCPU), precision};
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (gpus == 0)
      throw std::invalid_argument(fmt::format(
          "device '{}' is not available: no CUDA GPU is visible to this headcount (a LibTorch built {}CUDA); use "
          "auto or cpu",
          name, torch::cuda::is_available() ? "with " : "without CUDA, or no driver for "));
    const int index = cuda_index(name);
    if (index >= gpus)
      throw std::invalid_argument(fmt::format("device '{}' is not available: this machine has {} GPU{} (cuda:0 to cuda:{})",
                                              name, gpus, gpus == 1 ? "" : "s", gpus - 1));
    runtime.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index >= 0 ? index : local_rank % gpus));
  } else if (name == "auto" && gpus > 0) {
    runtime.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
  }
  if (precision == Precision::Fp16 && runtime.device.is_cpu())
    throw std::invalid_argument(
        "precision 'fp16' needs a CUDA device (the CPU's mixed precision is bf16, which needs no loss scaling); use "
        "bf16 or fp32 on the cpu");
  return runtime;
}

double peak_device_memory_mib(const Runtime& runtime) {
#if defined(HEADCOUNT_WITH_CUDA)
  if (runtime.device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(runtime.device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#else
  (void)runtime;
#endif
  return 0.0;
}

}  // namespace headcount
