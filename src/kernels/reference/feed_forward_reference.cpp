#include "kernels/reference/feed_forward_reference.h"

#include "kernels/dropout.h"
#include "kernels/linear_product.h"

namespace headcount {

torch::Tensor feed_forward_reference(const torch::Tensor& x, const FeedForwardWeights& w,
                                     const FeedForwardOptions& options) {
  auto hidden = linear_product(x, w.expand_weight, w.expand_bias);
  hidden = options.activation == Activation::Relu ? torch::relu(hidden) : torch::gelu(hidden);
  if (options.dropout > 0) hidden = hashed_dropout(hidden, options.dropout, true, options.seed);
  return linear_product(hidden, w.contract_weight, w.contract_bias);
}

}  // namespace headcount
