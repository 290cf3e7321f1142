// A linear layer's product and its backward through oneDNN's matrix product
// (kernels/cpu/onednn_product.h), for float32 training and batched inference on the CPU.
//
// Why not torch::linear: LibTorch 1.13 sends float32 products to the BLAS, slow at the
// thin shapes of a deep single-head model (a deep model's training update 20% faster on
// oneDNN: docs/benchmarks.md, "Linear layers through oneDNN"). The backward is the two
// products torch::linear's backward would run (input gradient, weight gradient) on the
// same library, and the bias gradient as a column sum.
//
// Where the program was built without oneDNN, and for anything but float32 CPU tensors
// with autocast off, onednn_linear_applies says no and model/linear.h uses torch::linear.
#pragma once

#include <torch/torch.h>

#include "kernels/cpu/onednn_product.h"

namespace headcount {

// The fewest rows model/linear.h sends to oneDNN. Fewer (decoding a batch of sentences a
// token at a time) are cheaper through the BLAS's path for small products: the demo's
// batch-64 decoding took 10-25% longer with every product on oneDNN (docs/benchmarks.md).
// Training and evaluation batches have thousands of rows.
inline constexpr int64_t kOneDnnLinearMinRows = 128;

// Whether onednn_linear can compute this product: built with oneDNN, CPU float32 tensors,
// weight [out, in] and bias [out] (or undefined), x [..., in] with at least one row,
// autocast off.
bool onednn_linear_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// x [..., in], weight [out, in], bias [out] or undefined -> [..., out], as torch::linear,
// with gradients for whichever of the three require them. Sums run in another order than
// the BLAS's, so results equal torch::linear's within float rounding.
torch::Tensor onednn_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace headcount
