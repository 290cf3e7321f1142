// The residual step written with plain LibTorch operators: the path for devices and types
// without a kernel, and the oracle the kernel is tested against.
#pragma once

#include <torch/torch.h>

#include "kernels/residual_step.h"

namespace headcount {

// kernels/residual_step.h's step with hashed_dropout, addcmul and layer_norm.
torch::Tensor residual_step_reference(const torch::Tensor& x, const torch::Tensor& update,
                                      const ResidualStepOptions& options);

}  // namespace headcount
