// Token-budget batches (like fairseq's --max-tokens): examples of similar length are
// grouped so that examples x longest padded sequence stays within the budget, which keeps
// padding low and the work per update steady. The grouping is reshuffled every epoch
// from the seed, and every example appears exactly once per epoch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/batch.h"

namespace headcount {

// A pair of token sequences, without BOS/EOS (a task without targets leaves target empty).
struct Example {
  std::vector<int64_t> source, target;
};

// The cost of an example against the budget: its longer side, EOS/BOS included.
int64_t example_length(const Example& example);

// Indices into lengths grouped into batches. shuffle_seed < 0 keeps length order and batch
// order fixed (for evaluation); otherwise both are drawn from the seed. An example whose
// length alone exceeds the budget gets a batch of its own.
std::vector<std::vector<int64_t>> token_budget_batches(const std::vector<int64_t>& lengths, int64_t max_tokens,
                                                       int64_t shuffle_seed);
// The same over examples, by example_length.
std::vector<std::vector<int64_t>> token_budget_batches(const std::vector<Example>& examples, int64_t max_tokens,
                                                       int64_t shuffle_seed);

// A sequence-to-sequence batch on the CPU: source = tokens + EOS, target_input = BOS +
// tokens, target_output = tokens + EOS, all padded with 0; target_tokens and
// throughput_tokens count the real tokens of target_output.
Batch make_batch(const std::vector<Example>& examples, const std::vector<int64_t>& indices);

}  // namespace headcount
