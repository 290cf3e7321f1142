#include "model/linear.h"

#include <cmath>


namespace headcount {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias)
    : in_features_(in_features), out_features_(out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
  xavier_rows(0, out_features, 1.0, /*normal=*/false);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return linear_product(x, weight, bias); }

void LinearImpl::xavier_rows(int64_t begin, int64_t end, double gain, bool normal) {
  torch::NoGradGuard no_grad;
  const double fan_sum = static_cast<double>(in_features_ + (end - begin));
  auto rows = weight.narrow(0, begin, end - begin);
  if (normal) {
    rows.normal_(0.0, gain * std::sqrt(2.0 / fan_sum));
  } else {
    const double bound = gain * std::sqrt(6.0 / fan_sum);
    rows.uniform_(-bound, bound);
  }
  if (bias.defined()) bias.narrow(0, begin, end - begin).zero_();
}

}  // namespace headcount
