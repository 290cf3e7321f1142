// A linear layer's product y = x W^T + b for a few rows, outside autograd: what decoding
// one token per sentence asks of every projection.
//
// Why not torch::linear: for a single row LibTorch 1.13 goes through matmul and addmm to
// the BLAS's general matrix product, which first copies the bias into the output and then
// packs the whole weight matrix, on every call; at the demo's widths that overhead is most
// of a decoding step (docs/benchmarks.md, "Decoding one sentence"). Here each weight row is
// read once and multiplied with every input row while it is in cache.
#pragma once

#include <torch/torch.h>

namespace headcount {

// The most rows thin_linear takes: beam search over one sentence, a handful of sentences.
// More rows than this amortise the packing, and the BLAS's blocked product wins.
inline constexpr int64_t kThinLinearMaxRows = 8;

// Whether t is a defined CPU float32 tensor laid out contiguously: what the raw-pointer
// loops here and in kernels/inference_step.h read.
bool float_cpu_contiguous(const torch::Tensor& t);

// Whether autograd wants gradients of the product x weight^T + bias: grad mode on and an
// operand (bias undefined or not) requiring one. The few-rows path declines then; the
// oneDNN one builds its autograd node only then.
bool product_wants_gradient(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// Whether thin_linear can compute this product: CPU float32 tensors, x contiguous with at
// most kThinLinearMaxRows rows of weight's width, weight (and bias) contiguous, no
// gradient wanted (no-grad or inference mode, or nothing requiring one), autocast off.
bool thin_linear_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// x [..., in], weight [out, in], bias [out] or undefined -> [..., out], as torch::linear
// (sums in another order, so equal to it within float rounding).
torch::Tensor thin_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// The same product on raw rows: x [rows, in], weight [out, in], bias [out] or nullptr,
// y [rows, out], all contiguous; for kernels that keep their activations in buffers of
// their own (kernels/inference_step.h).
void thin_linear_rows(const float* x, int64_t rows, const float* weight, const float* bias, float* y, int64_t in,
                      int64_t out);

}  // namespace headcount
