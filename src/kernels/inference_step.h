// Inference on a few rows without autograd: a short sentence through the encoder, and one
// incremental decoding step through the decoder (every layer, one new token per row). The
// operation entry point for the model's encode and decode_step: it takes the stack as the
// model describes it (StackWeights, built by the layers themselves from their own members:
// model/stack.h's inference_weights) and returns nullopt where no kernel takes the step,
// and the model then runs its own forward, the reference.
//
// Why: at batch 1 the arithmetic is tiny and each LibTorch operator costs about the same
// whatever its size, so a layer of some twenty operators costs mostly their dispatch and
// allocation. A single-head model has H times the layers of its multi-head twin for the
// same FLOPs, so it paid H times that cost and decoded at 0.4x its twin's speed
// (docs/benchmarks.md). kernels/cpu/inference_rows.h runs a layer as a few function calls
// over rows that stay in cache.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/activation.h"
#include "kernels/attention.h"

namespace headcount {

// A linear layer's parameters: weight [out, in], bias [out] or undefined.
struct LinearWeights {
  torch::Tensor weight, bias;
};

struct NormWeights {
  torch::Tensor gamma, beta;  // [d]
  double eps = 1e-5;
};

// One residual step as the loops apply it (kernels/residual_step.h's step, with where the
// scheme puts its LayerNorm).
struct ResidualWeights {
  bool normalizes_input = false;  // the sub-layer reads LN(x) (pre-ln)
  bool normalizes_sum = false;    // the step's output is LN(w * x + f(...)) (post-ln, admin, deepnorm)
  torch::Tensor weight;           // [d] learned w (admin); undefined: the constant alpha
  double alpha = 1.0;
  NormWeights norm;  // the LayerNorm either of the two uses
};

enum class SublayerKind { SelfAttention, CrossAttention, FeedForward };

// One sub-layer and the residual step around it.
//   SelfAttention:  input = the packed query-key-value projection [3*H*D, d], output [d, H*D]
//   CrossAttention: input = the query projection [H*D, d], output [d, H*D]; memory = the
//                   key-value projection of the encoder output [2*H*D, d], which the model
//                   applies once before decoding (LayerCache::memory)
//   FeedForward:    input = expand [f, d], output = contract [d, f]
struct SublayerWeights {
  SublayerKind kind = SublayerKind::FeedForward;
  ResidualWeights residual;
  LinearWeights input, output, memory;
  int64_t heads = 0, head_dim = 0;  // attention only
};

struct LayerWeights {
  std::vector<SublayerWeights> sublayers;  // in forward order
};

struct StackWeights {
  std::vector<LayerWeights> layers;
  std::optional<NormWeights> final_norm;  // schemes with a final LayerNorm
  Activation activation = Activation::Relu;
};

// What one decoder layer keeps between decoding steps.
struct LayerCache {
  AttentionCache self;
  AttentionCache memory;  // cross-attention keys and values of the encoder output
  void reorder(const torch::Tensor& order) {
    self.reorder(order);
    memory.reorder(order);
  }
};

// The most rows (sentences x positions) the encoder kernel takes: one sentence of up to 32
// tokens. The few-rows product reads each weight row once for all rows; with many more
// rows the BLAS's blocked product wins.
inline constexpr int64_t kFusedEncoderMaxRows = 32;

// x: the embedded source [sentences, length, d]; bias: the padding [sentences, 1, 1, length]
// or undefined. Returns the stack's output, the same shape as x; nullopt where no kernel
// takes it (then nothing was done).
std::optional<torch::Tensor> encoder_inference(const StackWeights& encoder, const torch::Tensor& x,
                                               const torch::Tensor& bias);
// Whether encoder_inference would take x (for tests and callers that check once).
bool encoder_inference_applies(const StackWeights& encoder, const torch::Tensor& x, const torch::Tensor& bias);

// x: the embedded new tokens [rows, 1, d]; caches: one per layer; memory_bias: additive
// [rows, 1, 1, S] (undefined without cross-attention). Returns [rows, 1, d], the stack's
// output, and appends the new positions' keys and values to the caches; nullopt (caches
// untouched) where no kernel takes it.
std::optional<torch::Tensor> decoder_inference_step(const StackWeights& decoder, const torch::Tensor& x,
                                                    std::vector<LayerCache>& caches, const torch::Tensor& memory_bias);

}  // namespace headcount
