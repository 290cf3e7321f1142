// The training objectives' losses, summed over their targets (the trainer divides by the
// count after adding up the batches of an update, and the ranks' sums).
//   label-smoothed cross-entropy as fairseq computes it: with smoothing epsilon over a
//   vocabulary of V, the target gets 1 - epsilon and every other token epsilon / (V - 1).
#pragma once

#include <torch/torch.h>

namespace headcount {

struct LossSums {
  torch::Tensor loss;  // what is differentiated, summed over real (non-padding) targets
  torch::Tensor nll;   // plain negative log-likelihood, summed likewise (no gradient needed)
  int64_t tokens = 0;  // the targets summed over
};

// Mixed precision leaves the logits in bf16 or fp16; a loss, and its softmax, is computed in
// fp32 (values already fp32 or fp64 are returned as they are).
torch::Tensor at_least_float(const torch::Tensor& values);

// logits: [..., V]; target: [...] with padding 0 ignored.
LossSums label_smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target, double epsilon);

}  // namespace headcount
