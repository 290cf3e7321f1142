// Adam and AdamW through the fused update (train/adam_update.h) against LibTorch's own
// optimizers, step by step and across a save and load of the state; the gradients'
// normalisation and clipping against div_ plus clip_grad_norm_.
#include <limits>

#include "test_support.h"
#include "train/gradient_clipping.h"
#include "train/optimizer.h"

namespace headcount {
namespace {

std::vector<torch::Tensor> parameters_like(torch::ScalarType dtype) {
  torch::manual_seed(12);
  return {torch::randn({7, 5}, dtype).requires_grad_(true), torch::randn({5}, dtype).requires_grad_(true),
          torch::randn({3, 4, 2}, dtype).requires_grad_(true)};
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters) out.push_back(p.detach().clone().requires_grad_(true));
  return out;
}

// The same gradients into both sets: step t's gradient of parameter i.
void set_gradients(std::vector<torch::Tensor>& a, std::vector<torch::Tensor>& b, int t) {
  for (size_t i = 0; i < a.size(); ++i) {
    auto g = torch::sin(torch::arange(a[i].numel(), a[i].options().requires_grad(false)) * (t + 1.0) + static_cast<double>(i))
                 .view(a[i].sizes()) * (1.0 + t);
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
}

struct Case {
  OptimizerKind kind;
  torch::ScalarType dtype;
};

class FusedAdam : public ::testing::TestWithParam<Case> {
 protected:
  std::unique_ptr<torch::optim::Optimizer> libtorch(std::vector<torch::Tensor> parameters, const OptimizerOptions& o) {
    if (GetParam().kind == OptimizerKind::Adam)
      return std::make_unique<torch::optim::Adam>(
          parameters, torch::optim::AdamOptions(0.01).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    return std::make_unique<torch::optim::AdamW>(
        parameters, torch::optim::AdamWOptions(0.01).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
  }
  double tolerance() const { return GetParam().dtype == torch::kDouble ? 1e-12 : 2e-6; }
};

TEST_P(FusedAdam, FollowsLibTorchsOptimizerStepByStep) {
  const OptimizerOptions o{GetParam().kind, 0.9, 0.98, 1e-8, 0.01};
  auto ours = parameters_like(GetParam().dtype), theirs = copies(ours);
  auto fused = make_optimizer(o, ours);
  auto reference = libtorch(theirs, o);
  for (int t = 0; t < 12; ++t) {
    set_gradients(ours, theirs, t);
    fused->step(0.01);
    reference->step();
    for (size_t i = 0; i < ours.size(); ++i)
      EXPECT_TRUE(torch::allclose(ours[i], theirs[i], tolerance(), tolerance())) << "step " << t << ", tensor " << i;
  }
}

TEST_P(FusedAdam, StateKeepsLibTorchsCheckpointFormat) {
  const OptimizerOptions o{GetParam().kind, 0.9, 0.98, 1e-8, 0.01};
  auto ours = parameters_like(GetParam().dtype), theirs = copies(ours);
  auto fused = make_optimizer(o, ours);
  for (int t = 0; t < 5; ++t) {
    set_gradients(ours, theirs, t);
    fused->step(0.01);
  }
  // LibTorch's optimizer continues from the state ours wrote, on the same weights.
  for (size_t i = 0; i < ours.size(); ++i) theirs[i].detach().copy_(ours[i].detach());
  torch::serialize::OutputArchive written;
  fused->save(written);
  std::stringstream stream;
  written.save_to(stream);
  torch::serialize::InputArchive read;
  read.load_from(stream);
  auto reference = libtorch(theirs, o);
  reference->load(read);
  for (int t = 5; t < 9; ++t) {
    set_gradients(ours, theirs, t);
    fused->step(0.01);
    reference->step();
  }
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_TRUE(torch::allclose(ours[i], theirs[i], tolerance(), tolerance()));
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return std::string(info.param.kind == OptimizerKind::Adam ? "adam" : "adamw") +
         (info.param.dtype == torch::kDouble ? "_double" : "_float");
}

const Case kCases[] = {{OptimizerKind::Adam, torch::kFloat},
                       {OptimizerKind::Adam, torch::kDouble},
                       {OptimizerKind::AdamW, torch::kFloat},
                       {OptimizerKind::AdamW, torch::kDouble}};

INSTANTIATE_TEST_SUITE_P(KindsAndTypes, FusedAdam, ::testing::ValuesIn(kCases), case_name);

TEST(GradientClipping, MatchesDivisionThenClipGradNorm) {
  for (double max_norm : {0.05, 1e9, std::numeric_limits<double>::infinity()}) {
    auto ours = parameters_like(torch::kFloat), theirs = copies(ours);
    set_gradients(ours, theirs, 3);
    ours[1].mutable_grad() = torch::Tensor();  // a parameter without a gradient is skipped
    theirs[1].mutable_grad() = torch::Tensor();
    const double norm = normalize_and_clip_gradients(ours, 40.0, max_norm);
    for (auto& p : theirs)
      if (p.grad().defined()) p.mutable_grad().div_(40.0);
    const double expected = torch::nn::utils::clip_grad_norm_(theirs, max_norm);
    EXPECT_NEAR(norm, expected, 1e-5 * expected) << "max_norm " << max_norm;
    for (size_t i : {0, 2}) EXPECT_TRUE(torch::allclose(ours[i].grad(), theirs[i].grad(), 1e-5, 1e-7)) << max_norm;
    EXPECT_FALSE(ours[1].grad().defined());
  }
}

TEST(GradientClipping, ReportsANormThatIsNotFinite) {
  auto parameters = parameters_like(torch::kFloat);
  for (auto& p : parameters) p.mutable_grad() = torch::ones_like(p);
  parameters[2].mutable_grad()[0][0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(std::isfinite(normalize_and_clip_gradients(parameters, 1.0, 1.0)));
}

}  // namespace
}  // namespace headcount
