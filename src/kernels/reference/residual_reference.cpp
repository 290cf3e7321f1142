#include "kernels/reference/residual_reference.h"

#include "kernels/dropout.h"

namespace headcount {

torch::Tensor residual_step_reference(const torch::Tensor& x, const torch::Tensor& update,
                                      const ResidualStepOptions& o) {
  const auto dropped = hashed_dropout(update, o.dropout, o.dropout > 0, o.seed);
  torch::Tensor sum;
  if (o.weight.defined())
    sum = torch::addcmul(dropped, x, o.weight);
  else if (o.alpha == 1.0)
    sum = x + dropped;
  else
    sum = torch::add(dropped, x, o.alpha);
  if (!o.gamma.defined()) return sum;
  return torch::layer_norm(sum, {x.size(-1)}, o.gamma, o.beta, o.eps);
}

}  // namespace headcount
