// Admin's profiling: one forward pass on a real training batch with every w = 1
// (training mode, so dropout acts as it will), recording Var[x] and Var[f(x)] at each
// residual sub-layer, then w_i = sqrt(sum of the variances that flow into sub-layer i).
// The result lives in the model's parameters (admin_scale), so every checkpoint keeps it.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/transformer.h"

namespace headcount {

struct AdminProfile {
  std::vector<SublayerStatistics> encoder_statistics, decoder_statistics;
  std::vector<double> encoder_scales, decoder_scales;  // the w written into the model
};

// source/target_input: one training batch (either may be undefined when the model lacks
// that stack). Leaves the model in the training mode it found it in.
// Does nothing (returns an empty profile) unless the scheme is a profiled one (admin).
AdminProfile profile_admin(Transformer& model, const torch::Tensor& source, const torch::Tensor& target_input);

}  // namespace headcount
