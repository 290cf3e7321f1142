#include "kernels/feed_forward.h"

#include "kernels/cpu/feed_forward_kernel.h"
#include "kernels/reference/feed_forward_reference.h"

namespace headcount {

torch::Tensor feed_forward(const torch::Tensor& x, const FeedForwardWeights& weights, const FeedForwardOptions& options) {
  if (feed_forward_kernel_applies(x, weights, options)) return feed_forward_kernel(x, weights, options);
  return feed_forward_reference(x, weights, options);
}

}  // namespace headcount
