// A dropout mask that is a pure function of (seed, element index).
//
// Why: the backward pass recomputes the mask instead of storing it, any number of threads
// draws it in parallel, and the result never depends on the thread count. The hash is two
// rounds of a 32-bit integer mixer (Wellons' "lowbias32"), so a loop over elements
// vectorises (four lanes with the default x86-64 flags, eight with AVX2; a 64-bit multiply
// would not). Masks repeat after 2^32 elements of one tensor, far beyond any activation
// here. Shared by hashed_dropout (kernels/dropout.h) and the attention kernel's dropout
// on probabilities.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace headcount {

class DropoutMask {
 public:
  DropoutMask(uint64_t seed, double drop_probability)
      : seed_low_(static_cast<uint32_t>(seed)),
        seed_high_(static_cast<uint32_t>(seed >> 32)),
        threshold_(static_cast<uint32_t>(std::min(std::ceil(drop_probability * 4294967296.0), 4294967295.0))) {}

  // Kept when the 32-bit hash, read as a uniform draw in [0, 1), is >= the drop probability.
  bool keep(uint64_t index) const { return hash(static_cast<uint32_t>(index)) >= threshold_; }

  uint32_t hash(uint32_t index) const { return mix(mix(index ^ seed_low_) ^ seed_high_); }
  uint32_t threshold() const { return threshold_; }

 private:
  static uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
  }

  uint32_t seed_low_, seed_high_;
  uint32_t threshold_;  // ceil(p * 2^32); p = 1 drops all but a 2^-32 share (callers skip it)
};

}  // namespace headcount
