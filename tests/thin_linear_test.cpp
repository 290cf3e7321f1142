// The few-rows linear product (kernels/cpu/thin_linear.h) against torch::linear: values over
// widths and row counts, with and without bias; when it declines (too many rows, a
// gradient wanted, other types, a view, autocast); the Linear layer's two paths agreeing;
// the same numbers with one thread and two.

#include "model/linear.h"
#include "kernels/cpu/thin_linear.h"
#include "runtime/autocast.h"
#include "test_support.h"

namespace headcount {
namespace {

TEST(ThinLinear, MatchesTorchLinearOverWidthsAndRows) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  for (int64_t in : {1, 7, 64, 300})
    for (int64_t out : {1, 5, 192})
      for (int64_t rows = 1; rows <= kThinLinearMaxRows; rows += 3)
        for (bool with_bias : {true, false}) {
          const auto x = torch::randn({rows, 1, in}), weight = torch::randn({out, in});
          const auto bias = with_bias ? torch::randn({out}) : torch::Tensor();
          ASSERT_TRUE(thin_linear_applies(x, weight, bias));
          const auto ours = thin_linear(x, weight, bias), theirs = torch::linear(x, weight, bias);
          ASSERT_EQ(ours.sizes(), theirs.sizes());
          // Sums of `in` products of unit normals, added in another order.
          EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-5 * std::sqrt(static_cast<double>(in))))
              << in << "x" << out << " rows " << rows << " bias " << with_bias;
        }
}

TEST(ThinLinear, DeclinesWhatItDoesNotTake) {
  auto weight = torch::randn({6, 4}), bias = torch::randn({6});
  {
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(thin_linear_applies(torch::randn({kThinLinearMaxRows + 1, 4}), weight, bias));
    EXPECT_FALSE(thin_linear_applies(torch::randn({2, 4}, torch::kDouble), weight, bias));
    EXPECT_FALSE(thin_linear_applies(torch::randn({4, 2}).t(), weight, bias));  // a view, not contiguous
    EXPECT_FALSE(thin_linear_applies(torch::randn({2, 5}), weight, bias));      // wrong width
    EXPECT_TRUE(thin_linear_applies(torch::randn({2, 4}), weight, bias));
  }
  // A gradient wanted: weight requires one and grad mode is on.
  weight.set_requires_grad(true);
  EXPECT_FALSE(thin_linear_applies(torch::randn({2, 4}), weight, bias));
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(thin_linear_applies(torch::randn({2, 4}), weight, bias));
  }
  {
    torch::NoGradGuard no_grad;
    const AutocastScope bf16(Runtime{torch::kCPU, Precision::Bf16});
    EXPECT_FALSE(thin_linear_applies(torch::randn({2, 4}), weight, bias));
  }
}

TEST(ThinLinear, LinearLayerGivesTheSameOutputsAndStillTrains) {
  torch::manual_seed(8);
  Linear layer(48, 80);
  const auto x = torch::randn({1, 3, 48});
  const auto trained_path = layer->forward(x);  // grad mode on: the training path
  ASSERT_TRUE(trained_path.requires_grad());
  trained_path.sum().backward();
  EXPECT_TRUE(layer->weight.grad().defined());
  c10::InferenceMode inference;
  const auto decoding_path = layer->forward(x);
  EXPECT_TRUE(torch::allclose(decoding_path, trained_path.detach(), 1e-5, 1e-5));
}

TEST(ThinLinear, TwoThreadsGiveTheSameNumbersAsOne) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(9);
  // Large enough to be cut into chunks: 8 rows x 512 inputs x 2,048 outputs.
  const auto x = torch::randn({8, 512}), weight = torch::randn({2048, 512}), bias = torch::randn({2048});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = thin_linear(x, weight, bias);
  at::set_num_threads(2);
  const auto two = thin_linear(x, weight, bias);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
}

}  // namespace
}  // namespace headcount
