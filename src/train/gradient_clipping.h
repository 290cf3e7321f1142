// Gradients summed over the targets become their mean, then are clipped to a global L2
// norm, as torch::nn::utils::clip_grad_norm_ clips them: in two passes over the gradients
// on the CPU (the squares, then one scaling by 1/divisor times the clip coefficient)
// instead of three operators per parameter tensor, which for the several hundred small
// tensors of a deep model was more operator overhead than the update itself.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace headcount {

// Divides every defined gradient by divisor and clips their global norm to max_norm
// (infinity: no clipping), scaling by max_norm / (norm + 1e-6) when the norm exceeds it.
// Returns the norm after the division and before clipping (what a run logs as grad_norm);
// not finite when some gradient is not.
double normalize_and_clip_gradients(const std::vector<torch::Tensor>& parameters, double divisor, double max_norm);

}  // namespace headcount
