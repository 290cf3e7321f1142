// Scaled dot-product attention on the CPU as one forward/backward pair, for all heads at
// once (kernels/attention.h says what it computes and how the rows are laid out).
//
// Why a kernel of its own: LibTorch 1.13 runs a CPU batched product of small matrices as a
// loop of one BLAS call per (sentence, head). With the short sequences of G2P and the many
// heads of a shallow model that loop was the largest cost of a training update. The kernel
// below does the whole attention of one (sentence, head) in cache, with the backward
// written by hand, and takes query, key and value where the projections put them: no
// head split, no transpose, no copy.
//
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "kernels/attention.h"

namespace headcount {

// CPU float or double rows, the bias (if any) of the same type.
bool attention_kernel_applies(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                              const torch::Tensor& bias);

// As scaled_dot_product_attention, the dropout on the probabilities drawn from seed
// (kernels/cpu/dropout_mask.h) when dropout_probability > 0.
torch::Tensor attention_kernel(const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
                               const torch::Tensor& bias, const AttentionShape& shape, double dropout_probability,
                               uint64_t seed);

}  // namespace headcount
