// Dropout as the model applies it: inverted (kept values scaled by 1/(1-p)), its mask a
// pure function of a seed, so backward recomputes it and a resumed run repeats it. The
// operation entry point: CPU tensors take kernels/cpu/dropout_kernel.h, others
// torch::dropout.
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
