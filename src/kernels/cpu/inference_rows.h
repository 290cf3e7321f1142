// kernels/inference_step.h's steps as plain loops over one workspace, for CPU float32 rows.
//
// Each computes what the layers' forward (or forward_incremental) computes, sub-layer after
// sub-layer as the StackWeights list them, for every residual scheme, relu or gelu, then
// the stack's final LayerNorm where the scheme has one; equal to it within float rounding
// (tests/decode_test.cpp). The projections are kernels/cpu/thin_linear.h's few-rows product.
// A self-attention cache the decoder step extends becomes a view of the first `length`
// positions of a buffer with room for more, so appending a position copies one row
// instead of the whole cache.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "kernels/inference_step.h"

namespace headcount {

// Whether encoder_rows can run: x CPU float32 [sentences, length, d], contiguous, at most
// kFusedEncoderMaxRows rows; bias (the padding, [sentences, 1, 1, length]) CPU float32 or
// undefined; no cross-attention; the weights CPU float32 and contiguous; no gradient mode;
// autocast off.
bool encoder_rows_apply(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias);
torch::Tensor encoder_rows(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias);

// Whether decoder_step_rows can take this step: x CPU float32 [rows, 1, d], contiguous,
// rows at most kThinLinearMaxRows (kernels/cpu/thin_linear.h); one cache per layer, the
// caches and memory_bias CPU float32; the weights as for the encoder.
bool decoder_step_rows_apply(const StackWeights& decoder, const torch::Tensor& x, const std::vector<LayerCache>& caches,
                             const torch::Tensor& memory_bias);
torch::Tensor decoder_step_rows(const StackWeights& decoder, const torch::Tensor& x, std::vector<LayerCache>& caches,
                                const torch::Tensor& memory_bias);

}  // namespace headcount
