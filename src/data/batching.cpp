#include "data/batching.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "data/vocabulary.h"

namespace headcount {

int64_t example_length(const Example& example) {
  return static_cast<int64_t>(std::max(example.source.size(), example.target.size())) + 1;
}

std::vector<std::vector<int64_t>> token_budget_batches(const std::vector<Example>& examples, int64_t max_tokens,
                                                       int64_t shuffle_seed) {
  std::vector<int64_t> lengths(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) lengths[i] = example_length(examples[i]);
  return token_budget_batches(lengths, max_tokens, shuffle_seed);
}

std::vector<std::vector<int64_t>> token_budget_batches(const std::vector<int64_t>& lengths, int64_t max_tokens,
                                                       int64_t shuffle_seed) {
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 random(static_cast<uint64_t>(std::max<int64_t>(shuffle_seed, 0)));
  // Shuffling before a stable sort by length randomises who shares a batch among
  // examples of equal length.
  if (shuffle_seed >= 0) std::shuffle(order.begin(), order.end(), random);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> current;
  int64_t longest = 0;
  for (int64_t index : order) {
    const int64_t length = lengths[index];
    const int64_t new_longest = std::max(longest, length);
    if (!current.empty() && static_cast<int64_t>(current.size() + 1) * new_longest > max_tokens) {
      batches.push_back(std::move(current));
      current.clear();
      longest = 0;
    }
    current.push_back(index);
    longest = std::max(longest, length);
  }
  if (!current.empty()) batches.push_back(std::move(current));
  if (shuffle_seed >= 0) std::shuffle(batches.begin(), batches.end(), random);
  return batches;
}

Batch make_batch(const std::vector<Example>& examples, const std::vector<int64_t>& indices) {
  const int64_t n = static_cast<int64_t>(indices.size());
  int64_t source_length = 0, target_length = 0;
  for (int64_t i : indices) {
    source_length = std::max<int64_t>(source_length, examples[i].source.size() + 1);
    target_length = std::max<int64_t>(target_length, examples[i].target.size() + 1);
  }
  Batch batch;
  batch.source = torch::zeros({n, source_length}, torch::kLong);
  batch.target_input = torch::zeros({n, target_length}, torch::kLong);
  batch.target_output = torch::zeros({n, target_length}, torch::kLong);
  auto source = batch.source.accessor<int64_t, 2>();
  auto input = batch.target_input.accessor<int64_t, 2>();
  auto output = batch.target_output.accessor<int64_t, 2>();
  for (int64_t row = 0; row < n; ++row) {
    const auto& e = examples[indices[row]];
    for (size_t j = 0; j < e.source.size(); ++j) source[row][j] = e.source[j];
    source[row][e.source.size()] = Vocabulary::kEnd;
    input[row][0] = Vocabulary::kBegin;
    for (size_t j = 0; j < e.target.size(); ++j) {
      input[row][j + 1] = e.target[j];
      output[row][j] = e.target[j];
    }
    output[row][e.target.size()] = Vocabulary::kEnd;
    batch.target_tokens += static_cast<int64_t>(e.target.size()) + 1;
  }
  batch.throughput_tokens = batch.target_tokens;
  batch.padded_tokens = n * std::max(source_length, target_length);
  return batch;
}

}  // namespace headcount
