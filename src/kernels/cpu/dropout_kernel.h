// Inverted dropout on the CPU with its mask drawn from a hash (kernels/cpu/dropout_mask.h),
// as one forward/backward pair: kernels/dropout.h's hashed_dropout for CPU tensors.
//
// Why not torch::dropout: LibTorch 1.13's CPU build without MKL (Debian's) draws the
// Bernoulli mask one element at a time from a Mersenne Twister on a single thread, then
// rescales and multiplies in two more passes and keeps the float mask for backward. perf
// put the draw alone at 8% of a 12L-1H training update. Here the mask is a hash of
// (seed, element index): drawn on every thread in the same pass as the multiply, and
// recomputed in backward instead of stored.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace headcount {

// CPU float, double and bfloat16 tensors.
bool dropout_kernel_applies(const torch::Tensor& input);

// Kept values scaled by 1/(1-probability), 0 < probability < 1; same seed, same mask.
torch::Tensor dropout_kernel(const torch::Tensor& input, double probability, uint64_t seed);

}  // namespace headcount
