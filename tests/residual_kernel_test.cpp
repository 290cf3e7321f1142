// The fused residual step (dropout + weighted add + LayerNorm, kernels/residual_step.h)
// against the same step in plain LibTorch operators: values and every gradient, for each
// form the schemes use, with dropout on; the step as a stream of two halves; finite
// differences; thread-count independence; gamma that cannot recover the normalized rows;
// a bf16 update; the no-gradient path.
#include "kernels/reference/residual_reference.h"
#include "kernels/residual_step.h"
#include "test_support.h"

namespace headcount {
namespace {

constexpr int64_t kWidth = 24;

// The forms of model/residual_scheme.h: post-ln (LN, w = 1), pre-ln (no LN), admin (LN,
// learned w), deepnorm (LN, constant alpha).
enum class Form { PostLn, PreLn, Admin, DeepNorm };

struct Inputs {
  torch::Tensor x, update, weight, gamma, beta, output_weights;
};

Inputs inputs_for(Form form, torch::ScalarType dtype, int64_t width = kWidth) {
  torch::manual_seed(5);
  auto options = torch::TensorOptions().dtype(dtype);
  Inputs in;
  // 36 rows, not a multiple of the kernel's block of 16; a view that is not contiguous.
  in.x = torch::randn({3, 13, width}, options).narrow(1, 0, 12);
  in.update = torch::randn(in.x.sizes(), options);
  if (form == Form::Admin) in.weight = torch::rand({width}, options) + 0.5;
  if (form != Form::PreLn) {
    in.gamma = torch::rand({width}, options) + 0.5;
    in.beta = torch::randn({width}, options);
  }
  in.output_weights = torch::randn(in.x.sizes(), options);
  return in;
}

// The step's options for `in`: its weight, gamma and beta (as they are, not leaves).
ResidualStepOptions options_of(const Inputs& in, Form form) {
  ResidualStepOptions options;
  options.weight = in.weight;
  options.alpha = form == Form::DeepNorm ? 1.7 : 1.0;
  options.gamma = in.gamma;
  options.beta = in.beta;
  return options;
}

struct Result {
  torch::Tensor output;
  std::vector<torch::Tensor> gradients;  // x, update, then weight, gamma, beta where defined
};

template <typename Step>
Result run(Step step, const Inputs& in, Form form, double dropout) {
  auto leaf = [](const torch::Tensor& t) { return t.defined() ? t.detach().clone().requires_grad_(true) : t; };
  auto x = leaf(in.x), update = leaf(in.update);
  auto options = options_of(in, form);
  options.weight = leaf(in.weight);
  options.gamma = leaf(in.gamma);
  options.beta = leaf(in.beta);
  options.dropout = dropout;
  options.seed = 99;
  auto output = step(x, update, options);
  (output * in.output_weights).sum().backward();
  Result result{output.detach(), {x.grad(), update.grad()}};
  for (const auto& t : {options.weight, options.gamma, options.beta})
    if (t.defined()) result.gradients.push_back(t.grad());
  return result;
}

class ResidualKernel : public ::testing::TestWithParam<Form> {};

TEST_P(ResidualKernel, MatchesPlainOperatorsWithDropout) {
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    const auto in = inputs_for(GetParam(), dtype);
    const double tolerance = dtype == torch::kDouble ? 1e-10 : 1e-4;
    for (double dropout : {0.0, 0.3}) {
      const auto fused = run(residual_step, in, GetParam(), dropout);
      const auto plain = run(residual_step_reference, in, GetParam(), dropout);
      EXPECT_TRUE(torch::allclose(fused.output, plain.output, tolerance, tolerance)) << "dropout " << dropout;
      ASSERT_EQ(fused.gradients.size(), plain.gradients.size());
      for (size_t i = 0; i < fused.gradients.size(); ++i)
        EXPECT_TRUE(torch::allclose(fused.gradients[i], plain.gradients[i], tolerance, tolerance))
            << "gradient " << i << ", dropout " << dropout << ", max difference "
            << (fused.gradients[i] - plain.gradients[i]).abs().max().item<double>();
    }
  }
}

// The row sums run in 16 lanes with a tail: widths below, at and around multiples of it;
// and each width the row loops are compiled for as a constant (64-1024). In float only
// from 16 on: at 1 or 2 features a LayerNorm's gradient is ill-conditioned (1/std is large
// for two close values) and float's rounding, not the sum, decides.
TEST_P(ResidualKernel, MatchesPlainOperatorsAtWidthsAroundTheLaneCount) {
  for (int64_t width : {1, 2, 5, 16, 17, 64, 100, 128, 256, 512, 768, 1024}) {
    for (auto dtype : {torch::kDouble, torch::kFloat}) {
      if (dtype == torch::kFloat && width < 16) continue;
      const auto in = inputs_for(GetParam(), dtype, width);
      const double tolerance = dtype == torch::kDouble ? 1e-10 : 1e-4;
      const auto fused = run(residual_step, in, GetParam(), 0.3);
      const auto plain = run(residual_step_reference, in, GetParam(), 0.3);
      EXPECT_TRUE(torch::allclose(fused.output, plain.output, tolerance, tolerance)) << "width " << width;
      for (size_t i = 0; i < fused.gradients.size(); ++i)
        EXPECT_TRUE(torch::allclose(fused.gradients[i], plain.gradients[i], tolerance, tolerance))
            << "gradient " << i << ", width " << width << ", max difference "
            << (fused.gradients[i] - plain.gradients[i]).abs().max().item<double>();
    }
  }
}

TEST_P(ResidualKernel, GradientsMatchFiniteDifferences) {
  const auto in = inputs_for(GetParam(), torch::kDouble);
  auto x = in.x.clone().requires_grad_(true), update = in.update.clone().requires_grad_(true);
  ResidualStepOptions options;
  std::vector<torch::Tensor> parameters{x, update};
  if (in.weight.defined()) parameters.push_back(options.weight = in.weight.clone().requires_grad_(true));
  if (in.gamma.defined()) {
    parameters.push_back(options.gamma = in.gamma.clone().requires_grad_(true));
    parameters.push_back(options.beta = in.beta.clone().requires_grad_(true));
  }
  options.alpha = GetParam() == Form::DeepNorm ? 1.7 : 1.0;
  options.dropout = 0.25;
  options.seed = 3;
  auto loss = [&] { return (residual_step(x, update, options) * in.output_weights).sum(); };
  EXPECT_LT(testing::max_gradient_error(loss, parameters, 15), 1e-6);
}

TEST_P(ResidualKernel, ResultDoesNotDependOnTheThreadCount) {
  const auto in = inputs_for(GetParam(), torch::kFloat);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto one = run(residual_step, in, GetParam(), 0.1);
  torch::set_num_threads(2);
  const auto two = run(residual_step, in, GetParam(), 0.1);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.output, two.output));
  for (size_t i = 0; i < one.gradients.size(); ++i) EXPECT_TRUE(torch::equal(one.gradients[i], two.gradients[i]));
}

// Backward recovers the normalized rows from the output, n = (out - beta) / gamma, instead of
// keeping them, unless that loses precision: a gamma of 0, or one small beside its beta.
// Those must still give the plain operators' gradients (kept n), in both types.
TEST_P(ResidualKernel, GradientsMatchWhereGammaCannotRecoverTheNormalizedRows) {
  if (GetParam() == Form::PreLn) GTEST_SKIP() << "no LayerNorm in this form";
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    auto in = inputs_for(GetParam(), dtype);
    in.gamma[0] = 0.0;
    in.gamma[1] = 1e-3;
    in.beta[1] = 1.0;
    const double tolerance = dtype == torch::kDouble ? 1e-10 : 1e-4;
    const auto fused = run(residual_step, in, GetParam(), 0.3);
    const auto plain = run(residual_step_reference, in, GetParam(), 0.3);
    EXPECT_TRUE(torch::allclose(fused.output, plain.output, tolerance, tolerance));
    for (size_t i = 0; i < fused.gradients.size(); ++i)
      EXPECT_TRUE(torch::allclose(fused.gradients[i], plain.gradients[i], tolerance, tolerance))
          << "gradient " << i << ", max difference " << (fused.gradients[i] - plain.gradients[i]).abs().max().item<double>();
  }
}

// The step as a stream (x for the next step, branch for the next sub-layer): two consumers
// whose gradients backward adds itself. Against the plain step whose one output both read:
// both halves used, only x, only the branch; and the branch is a view of x (an in-place
// change to it cannot silently alter what backward recovers the normalized rows from).
TEST_P(ResidualKernel, StreamHalvesGetTheGradientsOfOneOutputReadTwice) {
  const auto in = inputs_for(GetParam(), torch::kDouble);
  const auto second_weights = torch::randn(in.x.sizes(), in.x.options());
  for (const std::string uses : {"both", "x", "branch"}) {
    auto gradients = [&](bool fused) {
      auto leaf = [](const torch::Tensor& t) { return t.defined() ? t.detach().clone().requires_grad_(true) : t; };
      auto x = leaf(in.x), update = leaf(in.update);
      auto options = options_of(in, GetParam());
      options.weight = leaf(in.weight);
      options.gamma = leaf(in.gamma);
      options.beta = leaf(in.beta);
      options.dropout = 0.3;
      options.seed = 99;
      auto stream = fused ? residual_step_stream(x, update, options)
                          : ResidualStream(residual_step_reference(x, update, options));
      if (fused) {
        EXPECT_TRUE(stream.branch.is_view());
      }
      auto loss = torch::zeros({}, in.x.options());
      if (uses != "branch") loss = loss + (stream.x * in.output_weights).sum();
      if (uses != "x") loss = loss + (stream.branch.tanh() * second_weights).sum();
      loss.backward();
      std::vector<torch::Tensor> out{x.grad(), update.grad()};
      for (const auto& t : {options.weight, options.gamma, options.beta})
        if (t.defined()) out.push_back(t.grad());
      return out;
    };
    const auto fused = gradients(true), plain = gradients(false);
    ASSERT_EQ(fused.size(), plain.size());
    for (size_t i = 0; i < fused.size(); ++i)
      EXPECT_TRUE(torch::allclose(fused[i], plain[i], 1e-10, 1e-10))
          << uses << ": gradient " << i << ", max difference " << (fused[i] - plain[i]).abs().max().item<double>();
  }
}

std::string form_name(const ::testing::TestParamInfo<Form>& info) {
  const char* names[] = {"post_ln", "pre_ln", "admin", "deepnorm"};
  return names[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Forms, ResidualKernel,
                         ::testing::Values(Form::PostLn, Form::PreLn, Form::Admin, Form::DeepNorm), form_name);

TEST(ResidualKernelPrecision, Bf16UpdateJoinsTheFloatStreamInFloat) {
  const auto in = inputs_for(Form::Admin, torch::kFloat);
  const auto options = options_of(in, Form::Admin);
  const auto update = in.update.to(torch::kBFloat16);
  const auto fused = residual_step(in.x, update, options);
  EXPECT_EQ(fused.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(fused, residual_step_reference(in.x, update.to(torch::kFloat), options), 1e-5, 1e-5));
}

TEST(ResidualKernelPrecision, WithoutGradientGivesTheSameValues) {
  const auto in = inputs_for(Form::Admin, torch::kFloat);
  auto options = options_of(in, Form::Admin);
  options.dropout = 0.2;
  options.seed = 8;
  const auto with_gradient = residual_step(in.x.clone().requires_grad_(true), in.update, options).detach();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(residual_step(in.x, in.update, options), with_gradient));
}

}  // namespace
}  // namespace headcount
