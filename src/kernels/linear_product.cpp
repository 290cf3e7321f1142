#include "kernels/linear_product.h"

#include "kernels/cpu/onednn_linear.h"
#include "kernels/cpu/thin_linear.h"

namespace headcount {

torch::Tensor linear_product(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (thin_linear_applies(x, weight, bias)) return thin_linear(x, weight, bias);
  if (onednn_linear_applies(x, weight, bias) && x.numel() >= kOneDnnLinearMinRows * x.size(-1))
    return onednn_linear(x, weight, bias);
  return torch::linear(x, weight, bias);
}

}  // namespace headcount
