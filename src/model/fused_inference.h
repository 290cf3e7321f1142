// Inference on a few rows as plain loops over one workspace: a short sentence through the
// encoder, and one incremental decoding step through the decoder (every layer, one new
// token per row). TransformerImpl::encode and decode_step take these paths on the CPU in
// fp32 without gradients when the rows are few: decoding one sentence at a time.
//
// Why kernels of their own: at batch 1 the arithmetic is tiny and each LibTorch operator
// costs about the same whatever its size, so a layer of some twenty operators costs mostly
// their dispatch and allocation. A single-head model has H times the layers of its
// multi-head twin for the same FLOPs, so it paid H times that cost and decoded at 0.4x its
// twin's speed (docs/benchmarks.md). Here a layer is a few function calls over rows that
// stay in cache, and the projections are model/thin_linear.h's few-rows product.
//
// Each computes what the layers' forward (or forward_incremental) computes, layer after
// layer, for every residual scheme, relu or gelu, then the stack's final LayerNorm where
// the scheme has one; equal to it within float rounding (tests/decode_test.cpp). A
// self-attention cache the decoder step extends becomes a view of the first `length`
// positions of a buffer with room for more, so appending a position copies one row
// instead of the whole cache. Neither path is taken while an attention recorder
// (analysis/attention_maps.h) or an Admin probe is attached.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "model/model_config.h"
#include "model/stack.h"

namespace headcount {

// The most rows (sentences x positions) the encoder pass takes: one sentence of up to 32
// tokens. The few-rows product reads each weight row once for all rows; with many more
// rows the BLAS's blocked product wins.
inline constexpr int64_t kFusedEncoderMaxRows = 32;

// Whether fused_encoder_forward can run: x CPU float32 [sentences, length, d], contiguous,
// at most kFusedEncoderMaxRows rows; bias (the padding, [sentences, 1, 1, length]) CPU
// float32 or undefined; the stack without cross-attention, in eval mode, its weights CPU
// float32 and contiguous; no gradient mode; autocast off; nothing attached.
bool fused_encoder_applies(const TransformerStackImpl& encoder, const torch::Tensor& x, const torch::Tensor& bias);

// x: the embedded source [sentences, length, d] -> the stack's output, the same shape;
// nullopt (nothing done) where fused_encoder_applies is false, so a caller checks once.
std::optional<torch::Tensor> fused_encoder_forward(TransformerStackImpl& encoder, Activation activation,
                                                   const torch::Tensor& x, const torch::Tensor& bias);

// Whether fused_decoder_step can take this step: x CPU float32 [rows, 1, d], contiguous,
// rows at most kThinLinearMaxRows (model/thin_linear.h); the caches and memory_bias CPU
// float32; the stack as for the encoder.
bool fused_decoder_step_applies(const TransformerStackImpl& decoder, const torch::Tensor& x,
                                const std::vector<LayerCache>& caches, const torch::Tensor& memory_bias);

// x: the embedded new tokens [rows, 1, d]. caches: one per layer (keys and values of the
// positions so far, cross-attention's of the encoder output); memory_bias: additive
// [rows, 1, 1, S] (undefined without cross-attention). Returns [rows, 1, d], the stack's
// output, and appends the new positions' keys and values to the caches; nullopt (caches
// untouched) where fused_decoder_step_applies is false.
std::optional<torch::Tensor> fused_decoder_step(TransformerStackImpl& decoder, Activation activation,
                                                const torch::Tensor& x, std::vector<LayerCache>& caches,
                                                const torch::Tensor& memory_bias);

}  // namespace headcount
