// fp16 training's dynamic loss scale, as PyTorch's GradScaler keeps it (LibTorch has no C++
// one). fp16 cannot hold small gradients, so the loss is multiplied by a large scale before
// the backward pass and the gradients divided by it after. When a gradient overflows
// (inf or NaN) the update is skipped and the scale halved; after `interval` updates in a
// row without overflow it doubles. A skipped update is counted, not called divergence.
//
// On CUDA the unscale and the update are ATen's fused kernels
// (_amp_foreach_non_finite_check_and_unscale_, _amp_update_scale_); LibTorch 1.13 has no
// CPU kernels for them, so CPU tensors take plain operators with the same rule (only the
// tests use that: fp16 runs on GPUs).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace headcount {

class LossScaler {
 public:
  // PyTorch's defaults.
  explicit LossScaler(torch::Device device, double initial_scale = 65536.0, double growth = 2.0, double backoff = 0.5,
                      int64_t interval = 2000);

  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }

  // Divides the parameters' gradients (those defined) by scale x divisor in place (the
  // divisor: the trainer's target count). False when any held inf or NaN: then skip this
  // update.
  bool unscale(const std::vector<torch::Tensor>& parameters, double divisor);

  // After each update, applied or skipped: back off after an overflow, grow after
  // `interval` clean ones.
  void update();

  double value() const { return scale_.item<double>(); }
  int64_t clean_updates() const { return growth_tracker_.item<int64_t>(); }

  // From a checkpoint: the scale and the count of clean updates since it last changed.
  void restore(double scale, int64_t clean_updates);

 private:
  torch::Tensor scale_, growth_tracker_, found_inf_;  // float [1], int [1], float [1]
  double growth_, backoff_;
  int64_t interval_;
};

}  // namespace headcount
