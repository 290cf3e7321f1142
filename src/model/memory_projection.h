// Every decoder layer's cross-attention keys and values from the encoder's output, in one
// product.
//
// Why: each of a decoder's layers projects the same memory [batch, S, d] to keys and values
// of its own, 2 * heads * head_dim columns. A deep single-head decoder is many layers of few
// columns (the demo's 12L-1H: twelve products of 32 columns), thin products that run at a
// fraction of the CPU's speed, and autograd adds their gradients of the memory one pass at a
// time. Here the layers' weights are stacked into one product; each layer reads its columns
// as a view, and backward joins the layers' gradients into one before the product's own
// backward: one input gradient, one weight gradient (docs/benchmarks.md, "The residual
// stream, LayerNorm from its output, one memory projection"). Training and evaluation use
// it; decoding's few rows do not (model/transformer.cpp, start_decoding).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/attention.h"

namespace headcount {

// attentions: cross-attentions (each with key_value), all of the same width. Returns one
// cache per attention, its key_value [batch, S, 2*heads*head_dim] a view of one product.
std::vector<AttentionCache> project_memory_for_layers(const std::vector<MultiHeadAttention>& attentions,
                                                      const torch::Tensor& memory);

// y [..., sum(widths)] -> views of its consecutive column ranges, as y.split(widths, -1), but
// whose backward joins the pieces' gradients (zeros where a piece had none) into one tensor
// instead of adding one full-size gradient per piece.
std::vector<torch::Tensor> split_columns(const torch::Tensor& y, const std::vector<int64_t>& widths);

}  // namespace headcount
