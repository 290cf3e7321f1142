#include "task/masking.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace headcount {

uint64_t masking_seed(int64_t run_seed, int64_t epoch, int64_t index) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(static_cast<uint64_t>(run_seed)) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

MaskedSequence mask_sequence(const std::vector<int64_t>& tokens, const std::vector<bool>& starts_word,
                             const MaskingOptions& o, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // The units to choose from: single ordinary tokens, or whole words (runs of pieces).
  std::vector<std::vector<int64_t>> units;
  for (int64_t i = 0; i < static_cast<int64_t>(tokens.size()); ++i) {
    if (tokens[i] < o.first_ordinary) continue;
    const bool continues = o.whole_words && !units.empty() && !starts_word.at(i) && units.back().back() == i - 1;
    if (continues) units.back().push_back(i);
    else units.push_back({i});
  }
  MaskedSequence out;
  out.tokens = tokens;
  if (units.empty()) return out;
  const auto wanted = static_cast<size_t>(o.mask_probability * static_cast<double>(units.size()) + uniform(random));
  std::vector<size_t> order(units.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), random);
  order.resize(std::min(units.size(), std::max<size_t>(1, wanted)));
  for (size_t u : order) out.positions.insert(out.positions.end(), units[u].begin(), units[u].end());
  std::sort(out.positions.begin(), out.positions.end());
  // Ordinary tokens other than <mask>: [first_ordinary, vocabulary) minus one.
  std::uniform_int_distribution<int64_t> ordinary(o.first_ordinary, o.vocabulary_size - 2);
  for (int64_t p : out.positions) {
    out.targets.push_back(tokens[p]);
    const double r = uniform(random);
    if (r < o.leave_unmasked_probability) continue;
    if (r < o.leave_unmasked_probability + o.random_token_probability) {
      const int64_t t = ordinary(random);
      out.tokens[p] = t >= o.mask_index ? t + 1 : t;
    } else {
      out.tokens[p] = o.mask_index;
    }
  }
  return out;
}

}  // namespace headcount
