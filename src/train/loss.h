// Label-smoothed cross-entropy as fairseq computes it: with smoothing epsilon over a
// vocabulary of V, the target gets 1 - epsilon and every other token epsilon / (V - 1).
#pragma once

#include <torch/torch.h>

namespace headcount {

struct LossSums {
  torch::Tensor loss;  // label-smoothed, summed over real (non-padding) target tokens
  torch::Tensor nll;   // plain negative log-likelihood, summed likewise (no gradient needed)
  int64_t tokens = 0;
};

// logits: [..., V]; target: [...] with padding 0 ignored.
LossSums label_smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double epsilon);

}  // namespace headcount
