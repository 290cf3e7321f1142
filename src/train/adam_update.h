// One Adam (or AdamW) update of one parameter, as one pass over its elements.
//
// Why: LibTorch's Adam runs eight operators per parameter (and a string-keyed state
// lookup); a deep single-head model has several hundred small parameter tensors, so its
// optimizer step cost more operator overhead than its forward pass. The arithmetic is
// LibTorch's own (torch/optim/adam.cpp), in the same order:
//   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// with Adam's weight decay added to g and AdamW's applied to p first.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace headcount {

struct AdamUpdate {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  int64_t step = 1;                     // 1-based, after this update's increment
};

// parameter, exp_avg and exp_avg_sq are updated in place. CPU float and double
// contiguous tensors take one fused loop; anything else LibTorch's operators.
void adam_update(torch::Tensor& parameter, const torch::Tensor& grad, torch::Tensor& exp_avg,
                 torch::Tensor& exp_avg_sq, const AdamUpdate& update);

}  // namespace headcount
