// The float32 linear layer on oneDNN's product (kernels/cpu/onednn_linear.h) against
// torch::linear: outputs and the three gradients over shapes, with and without bias;
// inputs and weights given as views (transposed, strided, offset, broadcast); one row and
// a broadcast incoming gradient; gradients only for what requires one; in-place
// operations on the output; when it declines (other types, autocast, wrong widths, no
// rows); the Linear layer and the output layers taking it for training batches and
// leaving a few rows to the BLAS; small weight gradients split by rows among threads.
// Skipped where the program was built without oneDNN.

#include <functional>

#include "kernels/cpu/onednn_linear.h"
#include "model/linear.h"
#include "runtime/autocast.h"
#include "test_support.h"

namespace headcount {
namespace {

#define SKIP_WITHOUT_ONEDNN() \
  if (!onednn_products_built()) GTEST_SKIP() << "built without the system's oneDNN products: "         \
                                << "on with Debian's LibTorch and libdnnl-dev, off by design with a wheel's " \
                                << "LibTorch, which carries a oneDNN of its own (README, the second lane)"

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

// The product of views of two leaves (x, weight) and a bias, with either backend; the
// gradients are the leaves', so a view's strides and offsets reach the product.
using View = std::function<torch::Tensor(const torch::Tensor&)>;
Product run_on_views(bool ours, const torch::Tensor& x_leaf, const torch::Tensor& weight_leaf, const View& x_view,
                     const View& weight_view, const torch::Tensor& bias, const torch::Tensor& upstream) {
  auto xg = x_leaf.detach().clone().requires_grad_(true), wg = weight_leaf.detach().clone().requires_grad_(true);
  auto bg = bias.detach().clone().requires_grad_(true);
  const auto x = x_view(xg), weight = weight_view(wg);
  const auto y = ours ? onednn_linear(x, weight, bg) : torch::linear(x, weight, bg);
  (y * upstream).sum().backward();
  return {y.detach(), xg.grad(), wg.grad(), bg.grad()};
}

TEST(OneDnnLinear, TakesViewsAsTheyAre) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(12);
  const View same = [](const torch::Tensor& t) { return t; };
  const View transposed = [](const torch::Tensor& t) { return t.t(); };
  struct Case {
    std::string name;
    torch::Tensor x_leaf, weight_leaf;
    View x_view, weight_view;
  };
  const std::vector<Case> cases{
      {"input transposed", torch::randn({40, 17}), torch::randn({24, 40}), transposed, same},
      {"input every other column (copied)", torch::randn({17, 80}), torch::randn({24, 40}),
       [](const torch::Tensor& t) { return t.slice(1, 0, 80, 2); }, same},
      {"weight transposed", torch::randn({17, 40}), torch::randn({40, 24}), same, transposed},
      {"offsets into both", torch::randn({3, 17, 40}), torch::randn({48, 40}),
       [](const torch::Tensor& t) { return t.select(0, 1); }, [](const torch::Tensor& t) { return t.narrow(0, 8, 24); }},
      {"input broadcast (zero strides)", torch::randn({1, 40}), torch::randn({24, 40}),
       [](const torch::Tensor& t) { return t.expand({17, 40}); }, same}};
  for (const auto& c : cases) {
    const auto bias = torch::randn({24}), upstream = torch::randn({17, 24});
    const auto ours = run_on_views(true, c.x_leaf, c.weight_leaf, c.x_view, c.weight_view, bias, upstream);
    const auto theirs = run_on_views(false, c.x_leaf, c.weight_leaf, c.x_view, c.weight_view, bias, upstream);
    expect_close(ours.y, theirs.y, 40, c.name + ": output");
    expect_close(ours.x_grad, theirs.x_grad, 24 * 17, c.name + ": input gradient");
    expect_close(ours.weight_grad, theirs.weight_grad, 17, c.name + ": weight gradient");
    expect_close(ours.bias_grad, theirs.bias_grad, 17, c.name + ": bias gradient");
  }
}

TEST(OneDnnLinear, OneRowAndABroadcastGradient) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(15);
  // x of shape [in]; then sum().backward(), whose incoming gradient has zero strides.
  const auto x = torch::randn({33}), weight = torch::randn({7, 33}), bias = torch::randn({7});
  const auto ours = run(true, x, weight, bias, torch::randn({7})), theirs = run(false, x, weight, bias, torch::randn({7}));
  EXPECT_EQ(ours.y.sizes(), (std::vector<int64_t>{7}));
  expect_close(ours.y, theirs.y, 33, "output");
  auto xg = x.clone().requires_grad_(true), wg = weight.clone().requires_grad_(true);
  onednn_linear(xg, wg, bias).sum().backward();
  const auto x_grad = xg.grad().clone(), w_grad = wg.grad().clone();
  xg.grad().zero_();
  wg.grad().zero_();
  torch::linear(xg, wg, bias).sum().backward();
  expect_close(x_grad, xg.grad(), 7, "input gradient of sum()");
  expect_close(w_grad, wg.grad(), 1, "weight gradient of sum()");
}

// Enough rows for a small weight gradient to be split into one share of rows per thread
// (2,201 rows: uneven shares for 2 and 3 threads), a broadcast incoming gradient among
// them: the gradients match torch::linear's at 1-3 threads, and repeat bit for bit at the
// same thread count.
TEST(OneDnnLinear, WeightGradientsSplitByRowsMatchAndRepeat) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(16);
  const int threads = torch::get_num_threads();
  const auto x = torch::randn({2201, 24}), weight = torch::randn({40, 24}), bias = torch::randn({40});
  const auto upstream = torch::randn({2201, 40});
  for (int thread_count : {1, 2, 3}) {
    torch::set_num_threads(thread_count);
    const std::string name = std::to_string(thread_count) + " threads";
    const auto ours = run(true, x, weight, bias, upstream), theirs = run(false, x, weight, bias, upstream);
    expect_close(ours.weight_grad, theirs.weight_grad, 2201, name + ": weight gradient");
    expect_close(ours.bias_grad, theirs.bias_grad, 2201, name + ": bias gradient");
    expect_close(ours.x_grad, theirs.x_grad, 40, name + ": input gradient");
    const auto again = run(true, x, weight, bias, upstream);
    EXPECT_TRUE(torch::equal(again.weight_grad, ours.weight_grad)) << name;
    EXPECT_TRUE(torch::equal(again.bias_grad, ours.bias_grad)) << name;
    auto wg = weight.clone().requires_grad_(true), bg = bias.clone().requires_grad_(true);
    onednn_linear(x, wg, bg).sum().backward();  // an incoming gradient of zero strides
    EXPECT_TRUE(torch::allclose(wg.grad(), x.sum(0).expand({40, 24}), 1e-5, 1e-3)) << name;
    EXPECT_TRUE(torch::allclose(bg.grad(), torch::full({40}, 2201.0))) << name;
  }
  torch::set_num_threads(threads);
}

TEST(OneDnnLinear, GradientsOnlyForWhatRequiresOne) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(13);
  // A frozen weight and bias, an input that wants its gradient (a frozen layer above a
  // trained one): the input gradient as torch::linear's, none for the weight.
  const auto weight = torch::randn({3, 8}), bias = torch::randn({3});
  auto x = torch::randn({5, 8}).requires_grad_(true);
  const auto y = onednn_linear(x, weight, bias);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  const auto ours = x.grad().clone();
  x.grad().zero_();
  torch::linear(x, weight, bias).sum().backward();
  expect_close(ours, x.grad(), 3, "input gradient");
  EXPECT_FALSE(weight.grad().defined());
  // A trained weight, a frozen bias, an input without gradient.
  auto trained = weight.clone().requires_grad_(true);
  const auto x_plain = torch::randn({5, 8});
  onednn_linear(x_plain, trained, bias).sum().backward();
  const auto first = trained.grad().clone();
  EXPECT_TRUE(torch::allclose(first, torch::ones({3, 5}).mm(x_plain), 1e-5, 1e-5));
  // A second backward adds to the first, as autograd does for any layer.
  onednn_linear(x_plain, trained, bias).sum().backward();
  EXPECT_TRUE(torch::allclose(trained.grad(), 2 * first));
  // Nothing requires one: a plain product, no autograd node.
  EXPECT_FALSE(onednn_linear(x_plain, weight, bias).requires_grad());
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(torch::allclose(onednn_linear(x_plain, trained, bias), torch::linear(x_plain, trained, bias), 1e-5, 1e-5));
  }
}

TEST(OneDnnLinear, OutputsTakeInPlaceOperations) {
  SKIP_WITHOUT_ONEDNN();
  torch::manual_seed(16);
  // As torch::linear's: a layer after it may add or clamp in place (add_, relu_).
  auto weight = torch::randn({6, 4}).requires_grad_(true);
  const auto x = torch::randn({3, 2, 4});
  auto y = onednn_linear(x, weight, torch::Tensor());
  y.add_(1).relu_();
  y.sum().backward();
  auto reference_weight = weight.detach().clone().requires_grad_(true);
  auto reference = torch::linear(x, reference_weight, torch::Tensor());
  reference.add_(1).relu_();
  reference.sum().backward();
  expect_close(y.detach(), reference.detach(), 4, "output");
  expect_close(weight.grad(), reference_weight.grad(), 6, "weight gradient");
}

TEST(OneDnnLinear, DeclinesWhatItDoesNotTake) {
  const auto weight = torch::randn({6, 4}), bias = torch::randn({6});
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}, torch::kDouble), weight, bias));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight.to(torch::kBFloat16), bias));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 5}), weight, bias));  // wrong width
  EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight, torch::randn({5})));
  EXPECT_FALSE(onednn_linear_applies(torch::randn({0, 4}), weight, bias));  // no rows
  EXPECT_EQ(onednn_linear_applies(torch::randn({2, 4}), weight, bias), onednn_products_built());
  {
    const AutocastScope bf16(Runtime{torch::kCPU, Precision::Bf16});
    EXPECT_FALSE(onednn_linear_applies(torch::randn({2, 4}), weight, bias));
  }
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
