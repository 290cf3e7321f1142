// One incremental decoding step through the whole decoder stack (every layer, one new
// token per row) on the CPU, as plain loops over one workspace: the path
// TransformerImpl::decode_step takes for a few rows without gradients.
//
// Why a kernel of its own: at batch 1 a step's arithmetic is tiny and each LibTorch
// operator costs about the same whatever its size, so a decoder layer of some twenty
// operators costs mostly their dispatch and allocation. A single-head model has H times
// the layers of its multi-head twin for the same FLOPs, so it paid H times that cost and
// decoded at 0.4x its twin's speed (docs/benchmarks.md). Here a layer is a few function
// calls over rows that stay in cache.
//
// It computes what TransformerLayerImpl::forward_incremental computes, layer after layer
// (each residual scheme; relu or gelu), then the stack's final LayerNorm where the scheme
// has one; equal to it within float rounding (tests/decode_test.cpp). A self-attention
// cache it extends becomes a view of the first `length` positions of a buffer with room
// for more, so appending a position copies one row instead of the whole cache.
// Attention recorders (analysis/attention_maps.h) see full forward passes, not these steps.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/model_config.h"
#include "model/stack.h"

namespace headcount {

// Whether fused_decoder_step can take this step: x CPU float32 [rows, 1, d], contiguous,
// rows at most kThinLinearMaxRows (model/thin_linear.h); the stack in eval mode, its
// weights and the caches CPU float32, no Admin probe attached; no gradient mode; autocast off.
bool fused_decoder_step_applies(const TransformerStackImpl& decoder, const torch::Tensor& x,
                                const std::vector<LayerCache>& caches, const torch::Tensor& memory_bias);

// x: the embedded new tokens [rows, 1, d]. caches: one per layer (keys and values of the
// positions so far, cross-attention's of the encoder output); memory_bias: additive
// [rows, 1, 1, S] (undefined without cross-attention). Returns [rows, 1, d], the stack's
// output, and appends the new positions' keys and values to the caches.
torch::Tensor fused_decoder_step(TransformerStackImpl& decoder, Activation activation, const torch::Tensor& x,
                                 std::vector<LayerCache>& caches, const torch::Tensor& memory_bias);

}  // namespace headcount
