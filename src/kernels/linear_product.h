// The product every linear layer and output projection goes through, x W^T + b: the
// operation entry point that picks, for the tensors at hand,
//   kernels/cpu/thin_linear.h    a few rows without gradients (decoding a token at a time),
//   kernels/cpu/onednn_linear.h  float32 on the CPU (training and batches, own backward),
//   torch::linear                everything else (GPUs, autocast's bf16 and fp16).
// Weight layout follows torch: [out_features, in_features].
#pragma once

#include <torch/torch.h>

namespace headcount {

// x [..., in], weight [out, in], bias [out] or undefined -> [..., out].
torch::Tensor linear_product(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace headcount
