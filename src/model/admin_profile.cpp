#include "model/admin_profile.h"

namespace headcount {

namespace {
// A probe on a stack for one forward pass, detached however the pass ends.
class ProbeAttachment {
 public:
  ProbeAttachment(TransformerStack stack, VarianceProbe* probe) : stack_(std::move(stack)) { stack_->attach_probe(probe); }
  ~ProbeAttachment() { stack_->attach_probe(nullptr); }
  ProbeAttachment(const ProbeAttachment&) = delete;
  ProbeAttachment& operator=(const ProbeAttachment&) = delete;

 private:
  TransformerStack stack_;
};
}  // namespace

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
  if (!traits_of(model->config().residual).profiled) return profile;
  const bool was_training = model->is_training();
  model->train();
  for (auto& r : model->encoder_residuals()) r->set_scale(1.0);
  for (auto& r : model->decoder_residuals()) r->set_scale(1.0);
  {
    torch::NoGradGuard no_grad;
    torch::Tensor memory;
    VarianceProbe encoder_probe, decoder_probe;
    if (model->encoder) {
      ProbeAttachment attached(model->encoder, &encoder_probe);
      memory = model->encode(source);
    }
    if (model->decoder) {
      ProbeAttachment attached(model->decoder, &decoder_probe);
      model->decode(target_input, memory, source);
    }
    profile.encoder_statistics = std::move(encoder_probe.statistics);
    profile.decoder_statistics = std::move(decoder_probe.statistics);
  }
  profile.encoder_scales = apply_scales(model->encoder_residuals(), profile.encoder_statistics);
  profile.decoder_scales = apply_scales(model->decoder_residuals(), profile.decoder_statistics);
  model->train(was_training);
  return profile;
}

}  // namespace headcount
