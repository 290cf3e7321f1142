#include "kernels/residual_step.h"

#include "kernels/cpu/residual_kernel.h"
#include "kernels/dropout.h"
#include "kernels/reference/residual_reference.h"

namespace headcount {

torch::Tensor residual_step(const torch::Tensor& x, const torch::Tensor& update, const ResidualStepOptions& o) {
  return residual_step_stream(x, update, o).x;
}

ResidualStream residual_step_stream(const torch::Tensor& x, const torch::Tensor& update_in,
                                    const ResidualStepOptions& o) {
  // A mixed-precision product's bf16 output joins the fp32 stream in fp32, as the
  // unfused sum's type promotion and autocast's fp32 layer_norm would have it.
  const bool reduced = update_in.scalar_type() == torch::kBFloat16 || update_in.scalar_type() == torch::kHalf;
  const auto update = reduced && x.device().is_cpu() ? update_in.to(x.scalar_type()) : update_in;
  if (!residual_kernel_applies(x, update, o)) return ResidualStream(residual_step_reference(x, update, o));
  return residual_kernel(x, update, o, o.dropout > 0 ? (o.seed ? *o.seed : draw_dropout_seed()) : 0);
}

}  // namespace headcount
