// Turning source tokens into target tokens: greedy search and batched beam search, both
// on the incremental decoder (each step feeds one token and reuses cached keys/values).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/transformer.h"

namespace headcount {

struct DecodeOptions {
  int64_t beam = 1;             // 1: greedy
  double length_penalty = 1.0;  // beam scores are divided by length^length_penalty
  // Longest output: max_length_a * source length + max_length_b tokens (fairseq's rule),
  // and never past the model's positions.
  double max_length_a = 0.0;
  int64_t max_length_b = 200;
};

// source: [batch, S] tokens with EOS, padded. Returns each row's tokens without BOS/EOS.
std::vector<std::vector<int64_t>> greedy_decode(Transformer& model, const torch::Tensor& source,
                                                const DecodeOptions& options);
std::vector<std::vector<int64_t>> beam_search(Transformer& model, const torch::Tensor& source,
                                              const DecodeOptions& options);
// beam == 1 -> greedy_decode, else beam_search. Runs in eval mode without gradients.
std::vector<std::vector<int64_t>> decode(Transformer& model, const torch::Tensor& source, const DecodeOptions& options);

}  // namespace headcount
