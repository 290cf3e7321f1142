#include "model/admin_profile.h"

namespace headcount {

static std::vector<double> apply_scales(const std::vector<Residual>& residuals,
                                        const std::vector<SublayerStatistics>& statistics) {
  auto scales = admin_scales_from_statistics(statistics);
  TORCH_CHECK(scales.size() == residuals.size(), "admin profile saw ", scales.size(), " sub-layers, model has ",
              residuals.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    Residual residual = residuals[i];
    residual->set_scale(scales[i]);
  }
  return scales;
}

AdminProfile profile_admin(Transformer& model, const torch::Tensor& source, const torch::Tensor& target_input) {
  AdminProfile profile;
  if (model->config().residual != ResidualScheme::Admin) return profile;
  const bool was_training = model->is_training();
  model->train();
  for (auto& r : model->encoder_residuals()) r->set_scale(1.0);
  for (auto& r : model->decoder_residuals()) r->set_scale(1.0);
  {
    torch::NoGradGuard no_grad;
    torch::Tensor memory;
    VarianceProbe encoder_probe, decoder_probe;
    if (model->encoder) memory = model->encode(source, &encoder_probe);
    if (model->decoder) model->decode(target_input, memory, source, &decoder_probe);
    profile.encoder_statistics = std::move(encoder_probe.statistics);
    profile.decoder_statistics = std::move(decoder_probe.statistics);
  }
  profile.encoder_scales = apply_scales(model->encoder_residuals(), profile.encoder_statistics);
  profile.decoder_scales = apply_scales(model->decoder_residuals(), profile.decoder_statistics);
  model->train(was_training);
  return profile;
}

}  // namespace headcount
