// The feed-forward sub-layer as one forward/backward pair (kernels/cpu/feed_forward_kernel.h)
// against the same sub-layer from separate operators: output and the five gradients for
// ReLU and GELU, with and without dropout (same seed, same mask), at 1-3 threads (small
// weights: their gradients summed in shares of rows, ReLU's backward on each share;
// large: one product each), an input given as a view; inference without a node; when it
// declines; and the FeedForward module taking it for training batches only where it
// applies. Skipped where the program was built without oneDNN.

#include <string>

#include "kernels/cpu/feed_forward_kernel.h"
#include "kernels/cpu/onednn_product.h"
#include "kernels/reference/feed_forward_reference.h"
#include "model/feed_forward.h"
#include "runtime/autocast.h"
#include "test_support.h"

namespace headcount {
namespace {

#define SKIP_WITHOUT_ONEDNN() \
  if (!onednn_products_built()) GTEST_SKIP() << "built without the system's oneDNN products: "         \
                                << "on with Debian's LibTorch and libdnnl-dev, off by design with a wheel's " \
                                << "LibTorch, which carries a oneDNN of its own (README, the second lane)"

struct Results {
  torch::Tensor y, x_grad, expand_weight_grad, expand_bias_grad, contract_weight_grad, contract_bias_grad;
};

FeedForwardWeights random_weights(int64_t d, int64_t f) {
  return {torch::randn({f, d}) / std::sqrt(d), torch::randn({f}) * 0.5, torch::randn({d, f}) / std::sqrt(f),
          torch::randn({d}) * 0.5};
}

// y = the sub-layer on copies that require gradients, and the gradients of sum(y * upstream).
Results run(bool kernel, const torch::Tensor& x, const FeedForwardWeights& w, const FeedForwardOptions& options,
            const torch::Tensor& upstream) {
  auto copy = [](const torch::Tensor& t) { return t.detach().clone().requires_grad_(true); };
  auto xg = copy(x);
  const FeedForwardWeights wg{copy(w.expand_weight), copy(w.expand_bias), copy(w.contract_weight),
                              copy(w.contract_bias)};
  const auto y = kernel ? feed_forward_kernel(xg, wg, options) : feed_forward_reference(xg, wg, options);
  (y * upstream).sum().backward();
  return {y.detach(),
          xg.grad(),
          wg.expand_weight.grad(),
          wg.expand_bias.grad(),
          wg.contract_weight.grad(),
          wg.contract_bias.grad()};
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& theirs, const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what;
  ASSERT_EQ(ours.sizes(), theirs.sizes()) << what;
  const double scale = theirs.abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-4, 1e-5 * (1 + scale)))
      << what << ": largest difference " << (ours - theirs).abs().max().item<double>() << " of " << scale;
}

void expect_same_results(const Results& ours, const Results& theirs, const std::string& name) {
  expect_close(ours.y, theirs.y, name + " output");
  expect_close(ours.x_grad, theirs.x_grad, name + " input gradient");
  expect_close(ours.expand_weight_grad, theirs.expand_weight_grad, name + " expand weight gradient");
  expect_close(ours.expand_bias_grad, theirs.expand_bias_grad, name + " expand bias gradient");
  expect_close(ours.contract_weight_grad, theirs.contract_weight_grad, name + " contract weight gradient");
  expect_close(ours.contract_bias_grad, theirs.contract_bias_grad, name + " contract bias gradient");
}

struct Shape {
  int64_t batch, length, d, f;
};

TEST(FeedForwardKernel, MatchesTheSeparateOperatorsInValuesAndGradients) {
  SKIP_WITHOUT_ONEDNN();
  const int threads = torch::get_num_threads();
  // 1,203 rows: uneven shares for 2 and 3 threads; 64 x 4,500 weights: too large to split.
  for (const Shape shape : {Shape{401, 3, 16, 48}, Shape{9, 15, 8, 8}, Shape{40, 4, 64, 4500}})
    for (const Activation activation : {Activation::Relu, Activation::Gelu})
      for (const double dropout : {0.0, 0.3})
        for (const int thread_count : {1, 2, 3}) {
          torch::set_num_threads(thread_count);
          torch::manual_seed(5);
          const auto x = torch::randn({shape.batch, shape.length, shape.d});
          const auto w = random_weights(shape.d, shape.f);
          const auto upstream = torch::randn({shape.batch, shape.length, shape.d});
          const FeedForwardOptions options{activation, dropout, 1234};
          ASSERT_TRUE(feed_forward_kernel_applies(x, w, options));
          const std::string name = std::to_string(shape.batch * shape.length) + " rows, d " + std::to_string(shape.d) +
                                   ", f " + std::to_string(shape.f) + ", " + to_string(activation) + ", dropout " +
                                   std::to_string(dropout) + ", " + std::to_string(thread_count) + " threads";
          expect_same_results(run(true, x, w, options, upstream), run(false, x, w, options, upstream), name);
        }
  torch::set_num_threads(threads);
}

TEST(FeedForwardKernel, DropoutZeroesTheSameActivationsAsTheReference) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(3);
  const auto x = torch::randn({300, 16});
  const auto w = random_weights(16, 32);
  const FeedForwardOptions options{Activation::Relu, 0.5, 99};
  const auto ours = feed_forward_kernel(x, w, options);
  // Against the reference with another seed: a different mask changes the output.
  const auto other = feed_forward_reference(x, w, {Activation::Relu, 0.5, 98});
  EXPECT_FALSE(torch::allclose(ours, other, 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(ours, feed_forward_reference(x, w, options), 1e-4, 1e-5));
}

TEST(FeedForwardKernel, TakesAViewAndBuildsNoNodeWithoutGradients) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(4);
  const auto wide = torch::randn({200, 2, 24});
  const auto x = wide.narrow(2, 4, 16);  // rows 24 apart
  const auto w = random_weights(16, 40);
  const FeedForwardOptions options{Activation::Gelu, 0.0, std::nullopt};
  const auto y = feed_forward_kernel(x, w, options);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(torch::allclose(y, feed_forward_reference(x.contiguous(), w, options), 1e-4, 1e-5));
  const auto upstream = torch::randn({200, 2, 16});
  expect_same_results(run(true, x, w, options, upstream), run(false, x.contiguous(), w, options, upstream), "view");
}

TEST(FeedForwardKernel, DeclinesWhatItDoesNotTake) {
  SKIP_WITHOUT_ONEDNN();
  const auto x = torch::randn({200, 16});
  const auto w = random_weights(16, 32);
  const FeedForwardOptions options{Activation::Relu, 0.1, std::nullopt};
  EXPECT_TRUE(feed_forward_kernel_applies(x, w, options));
  EXPECT_FALSE(feed_forward_kernel_applies(x.narrow(0, 0, 100), w, options));  // few rows: the BLAS's path
  EXPECT_FALSE(feed_forward_kernel_applies(x.to(torch::kDouble), w, options));
  EXPECT_FALSE(feed_forward_kernel_applies(x, w, {Activation::Relu, 1.0, std::nullopt}));
  auto no_bias = w;
  no_bias.contract_bias = torch::Tensor();
  EXPECT_FALSE(feed_forward_kernel_applies(x, no_bias, options));
  auto mismatched = w;
  mismatched.contract_weight = torch::randn({16, 33});
  EXPECT_FALSE(feed_forward_kernel_applies(x, mismatched, options));
  {
    const AutocastScope bf16(Runtime{torch::kCPU, Precision::Bf16});
    EXPECT_FALSE(feed_forward_kernel_applies(x, w, options));
  }
}

// The module in training and evaluation gives what its separate operators give.
TEST(FeedForwardKernel, TheModuleMatchesItsOperatorsInTrainingAndEvaluation) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(8);
  FeedForward module(16, 48, Activation::Relu, 0.0);
  const auto x = torch::randn({100, 3, 16});
  const FeedForwardWeights w{module->expand->weight, module->expand->bias, module->contract->weight,
                             module->contract->bias};
  const FeedForwardOptions options{Activation::Relu, 0.0, std::nullopt};
  ASSERT_TRUE(feed_forward_kernel_applies(x, w, options));
  module->train();
  const auto y = module->forward(x);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(torch::allclose(y, feed_forward_reference(x, w, options), 1e-4, 1e-5));
  module->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(module->forward(x), feed_forward_reference(x, w, options), 1e-4, 1e-5));
}

}  // namespace
}  // namespace headcount
