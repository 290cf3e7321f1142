// Token-budget batches (like fairseq's --max-tokens): examples of similar length are
// grouped so that examples x longest padded sequence stays within the budget, which keeps
// padding low and the work per update steady. The grouping is reshuffled every epoch
// from the seed, and every example appears exactly once per epoch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/task_data.h"

namespace headcount {

struct Batch {
  torch::Tensor source;         // [batch, S]: tokens + EOS, padded with 0
  torch::Tensor target_input;   // [batch, T]: BOS + tokens, padded
  torch::Tensor target_output;  // [batch, T]: tokens + EOS, padded
  int64_t target_tokens = 0;    // real tokens in target_output
  int64_t padded_tokens = 0;    // batch x max(S, T): what the budget counts
};

// The cost of an example against the budget: its longer side, EOS/BOS included.
int64_t example_length(const Example& example);

// Example indices grouped into batches. shuffle_seed < 0 keeps length order and batch
// order fixed (for evaluation); otherwise both are drawn from the seed. An example whose
// length alone exceeds the budget gets a batch of its own.
std::vector<std::vector<int64_t>> token_budget_batches(const std::vector<Example>& examples, int64_t max_tokens,
                                                       int64_t shuffle_seed);

Batch make_batch(const std::vector<Example>& examples, const std::vector<int64_t>& indices);

}  // namespace headcount
