#include "kernels/dropout.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "kernels/cpu/dropout_kernel.h"

namespace headcount {

uint64_t draw_dropout_seed() {
  // From the generator itself: a randint tensor and its item() were four operator calls,
  // and a deep model draws a seed per residual step and dropout (62 an update in 12L-1H).
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

torch::Tensor hashed_dropout(const torch::Tensor& input, double probability, bool training, std::optional<uint64_t> seed) {
  if (!training || probability <= 0) return input;
  if (probability >= 1) return input * 0;  // as torch::dropout does
  if (!dropout_kernel_applies(input)) return torch::dropout(input, probability, true);
  return dropout_kernel(input, probability, seed ? *seed : draw_dropout_seed());
}

}  // namespace headcount
