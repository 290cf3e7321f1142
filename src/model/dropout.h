// Inverted dropout (kept values scaled by 1/(1-p)) as one forward/backward pair, with the
// mask drawn from a hash: hashed_dropout.
//
// Why not torch::dropout: LibTorch 1.13's CPU build without MKL (Debian's) draws the
// Bernoulli mask one element at a time from a Mersenne Twister on a single thread, then
// rescales and multiplies in two more passes and keeps the float mask for backward. perf
// put the draw alone at 8% of a 12L-1H training update. Here the mask is a hash of
// (seed, element index) (src/model/dropout_mask.h): drawn on every thread in the same pass
// as the multiply, and recomputed in backward instead of stored.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace headcount {

// input unchanged unless training and probability > 0. Same seed, same mask; unset, the
// seed is drawn from LibTorch's default generator (see draw_dropout_seed).
// CPU float, double and bfloat16 tensors use the kernel; anything else (CUDA, half)
// torch::dropout.
torch::Tensor hashed_dropout(const torch::Tensor& input, double probability, bool training,
                             std::optional<uint64_t> seed = {});

// One seed from LibTorch's default CPU generator, so torch::manual_seed and a checkpoint's
// saved generator state make the masks repeat.
uint64_t draw_dropout_seed();

}  // namespace headcount
