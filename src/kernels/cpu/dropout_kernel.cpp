#include "kernels/cpu/dropout_kernel.h"

#include <ATen/Parallel.h>

#include <type_traits>

#include "kernels/cpu/dropout_mask.h"
#include "util/vector_clones.h"

namespace headcount {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// target[i] = source[i] * (kept ? scale : 0) for i in [begin, end). Written so that it
// vectorises (compiled with OpenMP, see CMakeLists.txt): the mask comes by value,
// so the compiler knows the stores cannot change it.
// bf16 values are scaled in float: 1/(1-p) itself is not exact in bf16 (1/0.9 would be
// 1.109), and the error would bias every kept value the same way.
template <typename T>
using ScaleType = std::conditional_t<std::is_same_v<T, c10::BFloat16>, float, T>;

template <typename T>
HEADCOUNT_VECTOR_CLONES void mask_elements(const T* source, T* target, int64_t begin, int64_t end, DropoutMask mask, ScaleType<T> scale) {
  const uint32_t threshold = mask.threshold();
#pragma omp simd
  for (int64_t i = begin; i < end; ++i)
    target[i] = static_cast<T>(static_cast<ScaleType<T>>(source[i]) *
                               (mask.hash(static_cast<uint32_t>(i)) >= threshold ? scale : ScaleType<T>(0)));
}

// The same call is the forward and the backward: the gradient is masked and scaled alike.
torch::Tensor apply_mask(const torch::Tensor& input, double probability, uint64_t seed) {
  auto in = input.contiguous();
  auto out = torch::empty(in.sizes(), in.options());
  const DropoutMask mask(seed, probability);
  AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, in.scalar_type(), "hashed_dropout", [&] {
    const scalar_t* source = in.data_ptr<scalar_t>();
    scalar_t* target = out.data_ptr<scalar_t>();
    const auto scale = static_cast<ScaleType<scalar_t>>(1.0 / (1.0 - probability));
    at::parallel_for(0, in.numel(), 32768, [&](int64_t begin, int64_t end) {
      mask_elements(source, target, begin, end, mask, scale);
    });
  });
  return out;
}

class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
 public:
  static torch::Tensor forward(AutogradContext* context, const torch::Tensor& input, double probability,
                               int64_t seed) {
    context->saved_data["probability"] = probability;
    context->saved_data["seed"] = seed;
    return apply_mask(input, probability, static_cast<uint64_t>(seed));
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const double probability = context->saved_data["probability"].toDouble();
    const auto seed = static_cast<uint64_t>(context->saved_data["seed"].toInt());
    return {apply_mask(grad_outputs[0], probability, seed), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool dropout_kernel_applies(const torch::Tensor& input) {
  return input.device().is_cpu() && (input.scalar_type() == torch::kFloat || input.scalar_type() == torch::kDouble ||
                                     input.scalar_type() == torch::kBFloat16);
}

torch::Tensor dropout_kernel(const torch::Tensor& input, double probability, uint64_t seed) {
  return DropoutFunction::apply(input, probability, static_cast<int64_t>(seed));
}

}  // namespace headcount
