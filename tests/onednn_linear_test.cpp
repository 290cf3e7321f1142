// The float32 linear layer on oneDNN's product (model/onednn_linear.h) against
// torch::linear: outputs and the three gradients over shapes, with and without bias;
// inputs and weights given as views; gradients only for what requires one; when it
// declines (other types, autocast, wrong widths, no rows); the Linear layer and the output
// layers taking it for training batches and leaving a few rows to the BLAS. Skipped where the program was built without oneDNN.
#include <ATen/autocast_mode.h>

#include "model/linear.h"
#include "model/onednn_linear.h"
#include "test_support.h"

namespace headcount {
namespace {

#define SKIP_WITHOUT_ONEDNN() \
  if (!onednn_products_built()) GTEST_SKIP() << "built without oneDNN's headers (Debian: libdnnl-dev)"

struct Product {
  torch::Tensor y, x_grad, weight_grad, bias_grad;
};

// y = linear(x, weight, bias) and the gradients of sum(y * upstream), on copies that
// require gradients, with either backend.
Product run(bool ours, const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
            const torch::Tensor& upstream) {
  auto xg = x.detach().clone().requires_grad_(true), wg = weight.detach().clone().requires_grad_(true);
  auto bg = bias.defined() ? bias.detach().clone().requires_grad_(true) : torch::Tensor();
  const auto y = ours ? onednn_linear(xg, wg, bg) : torch::linear(xg, wg, bg);
  (y * upstream).sum().backward();
  return {y.detach(), xg.grad(), wg.grad(), bg.defined() ? bg.grad() : torch::Tensor()};
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& theirs, double sum_terms, const std::string& what) {
  ASSERT_EQ(ours.sizes(), theirs.sizes()) << what;
  // Sums of sum_terms products of unit normals, added in another order.
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 2e-5 * std::sqrt(sum_terms)))
      << what << ": largest difference " << (ours - theirs).abs().max().item<double>();
}

TEST(OneDnnLinear, MatchesTorchLinearInValuesAndGradients) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(11);
  for (int64_t rows : {1, 9, 300})
    for (int64_t in : {1, 64, 257})
      for (int64_t out : {1, 5, 192})
        for (bool with_bias : {true, false}) {
          const auto x = torch::randn({rows, 2, in}), weight = torch::randn({out, in});
          const auto bias = with_bias ? torch::randn({out}) : torch::Tensor();
          const auto upstream = torch::randn({rows, 2, out});
          ASSERT_TRUE(onednn_linear_applies(x, weight, bias));
          const auto ours = run(true, x, weight, bias, upstream), theirs = run(false, x, weight, bias, upstream);
          const std::string shape = std::to_string(rows) + "x" + std::to_string(in) + "->" + std::to_string(out);
          expect_close(ours.y, theirs.y, in, shape + " output");
          expect_close(ours.x_grad, theirs.x_grad, out, shape + " input gradient");
          expect_close(ours.weight_grad, theirs.weight_grad, 2 * rows, shape + " weight gradient");
          if (with_bias) expect_close(ours.bias_grad, theirs.bias_grad, 2 * rows, shape + " bias gradient");
        }
}

TEST(OneDnnLinear, TakesViewsAsTheyAre) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(12);
  const auto weight_t = torch::randn({40, 24});
  const std::vector<std::pair<torch::Tensor, torch::Tensor>> cases{
      {torch::randn({40, 17}).t(), torch::randn({24, 40})},             // input transposed
      {torch::randn({17, 80}).slice(1, 0, 80, 2), torch::randn({24, 40})},  // every other column: copied
      {torch::randn({17, 40}), weight_t.t()},                           // weight transposed
      {torch::randn({3, 17, 40}).select(0, 1), torch::randn({48, 40}).narrow(0, 8, 24)}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [x, weight] = cases[i];
    const auto bias = torch::randn({24}), upstream = torch::randn({17, 24});
    const auto ours = run(true, x, weight, bias, upstream), theirs = run(false, x, weight, bias, upstream);
    expect_close(ours.y, theirs.y, 40, "case " + std::to_string(i) + " output");
    expect_close(ours.x_grad, theirs.x_grad, 24, "case " + std::to_string(i) + " input gradient");
    expect_close(ours.weight_grad, theirs.weight_grad, 17, "case " + std::to_string(i) + " weight gradient");
  }
}

TEST(OneDnnLinear, GradientsOnlyForWhatRequiresOne) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(13);
  const auto x = torch::randn({5, 8});
  auto weight = torch::randn({3, 8}).requires_grad_(true), bias = torch::randn({3});  // bias frozen
  onednn_linear(x, weight, bias).sum().backward();
  EXPECT_TRUE(weight.grad().defined());
  EXPECT_FALSE(bias.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  // A second backward adds to the first, as autograd does for any layer.
  const auto first = weight.grad().clone();
  onednn_linear(x, weight, bias).sum().backward();
  EXPECT_TRUE(torch::allclose(weight.grad(), 2 * first));
  // Nothing requires one: a plain product, no autograd node.
  EXPECT_FALSE(onednn_linear(x, weight.detach(), bias).requires_grad());
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(torch::allclose(onednn_linear(x, weight, bias), torch::linear(x, weight, bias), 1e-5, 1e-5));
  }
}

TEST(OneDnnLinear, DeclinesWhatItDoesNotTake) {
  const auto weight = torch::randn({6, 4}), bias = torch::randn({6});
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}, torch::kDouble), weight, bias));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight.to(torch::kBFloat16), bias));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 5}), weight, bias));  // wrong width
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight, torch::randn({5})));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({0, 4}), weight, bias));  // no rows
  EXPECT_EQ(onednn_linear_applies(torch::randn({2, 4}), weight, bias), onednn_products_built());
  at::autocast::set_cpu_enabled(true);
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight, bias));
  at::autocast::set_cpu_enabled(false);
  // Declined shapes still get their product from the layer: torch::linear.
  Linear layer(4, 6);
  EXPECT_EQ(layer->forward(torch::randn({0, 4})).sizes(), (std::vector<int64_t>{0, 6}));
}

TEST(OneDnnLinear, LayersTakeItInTraining) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(14);
  Linear layer(48, 80);
  const auto x = torch::randn({kOneDnnLinearMinRows, 3, 48}, torch::requires_grad());
  const auto y = layer->forward(x);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_NE(y.grad_fn()->name().find("OneDnnLinear"), std::string::npos) << y.grad_fn()->name();
  const auto tied_embedding = torch::randn({30, 48}, torch::requires_grad());  // an output layer's weight
  const auto output_layer = linear_product(x, tied_embedding, {});
  EXPECT_NE(output_layer.grad_fn()->name().find("OneDnnLinear"), std::string::npos);
  // A few rows (a batch decoded a token at a time): the BLAS's path.
  const auto few = layer->forward(torch::randn({kOneDnnLinearMinRows - 1, 48}, torch::requires_grad()));
  EXPECT_EQ(few.grad_fn()->name().find("OneDnnLinear"), std::string::npos) << few.grad_fn()->name();
}

}  // namespace
}  // namespace headcount
