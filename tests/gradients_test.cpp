// Autograd gradients of attention, each residual scheme's layer and a whole model agree
// with central finite differences in double precision.
#include "model/attention.h"
#include "model/layer.h"
#include "model/transformer.h"
#include "test_support.h"

namespace headcount {
namespace {

using testing::max_gradient_error;

TEST(Gradients, MultiHeadAttentionMatchesFiniteDifferences) {
  torch::manual_seed(1);
  MultiHeadAttention self(8, 2, 3, 0.0, true), cross(8, 2, 3, 0.0, false);
  self->to(torch::kDouble), cross->to(torch::kDouble);
  auto x = torch::randn({2, 5, 8}, torch::kDouble).requires_grad_(true);
  auto memory = torch::randn({2, 4, 8}, torch::kDouble).requires_grad_(true);
  auto padding = torch::zeros({2, 4}, torch::kBool);
  padding[1][3] = true;
  auto bias = padding_bias(padding, torch::kDouble);
  auto weights = torch::randn({2, 5, 8}, torch::kDouble);
  auto loss = [&] {
    return ((self->forward(x, x, causal_bias(5, torch::kDouble, torch::kCPU)) + cross->forward(x, memory, bias)) * weights).sum();
  };
  std::vector<torch::Tensor> params = self->parameters();
  for (auto& p : cross->parameters()) params.push_back(p);
  params.push_back(x);
  params.push_back(memory);
  EXPECT_LT(max_gradient_error(loss, params), 1e-5);
}

class LayerGradients : public ::testing::TestWithParam<ResidualScheme> {};

TEST_P(LayerGradients, DecoderLayerMatchesFiniteDifferences) {
  torch::manual_seed(2);
  LayerOptions options;
  options.d_model = 8;
  options.stack = {1, 2, 0, 12};
  options.scheme = GetParam();
  options.cross_attention = true;
  options.residual_weight = 1.7;  // away from 1, so a w-scaling mistake shows
  options.init_gain = 0.6;
  TransformerLayer layer(options);
  layer->to(torch::kDouble);
  auto x = torch::randn({2, 4, 8}, torch::kDouble).requires_grad_(true);
  auto memory = torch::randn({2, 3, 8}, torch::kDouble);
  auto weights = torch::randn({2, 4, 8}, torch::kDouble);
  auto self_bias = causal_bias(4, torch::kDouble, torch::kCPU);
  auto loss = [&] { return (layer->forward(x, self_bias, memory, {}) * weights).sum(); };
  auto params = layer->parameters();
  params.push_back(x);
  EXPECT_LT(max_gradient_error(loss, params), 1e-5) << to_string(GetParam());
}

TEST_P(LayerGradients, WholeModelMatchesFiniteDifferences) {
  torch::manual_seed(3);
  auto config = testing::tiny_config(GetParam());
  Transformer model(config);
  model->to(torch::kDouble);
  auto source = torch::tensor({{3, 4, 5, 6}, {7, 8, 0, 0}}, torch::kLong);
  auto target = torch::tensor({{1, 4, 9}, {1, 5, 0}}, torch::kLong);
  auto loss = [&] {
    auto logits = model->logits(model->decode(target, model->encode(source), source));
    // Only real target positions: autograd gives the padding embedding row no gradient
    // by design, while outputs at padded positions do depend on it.
    return torch::log_softmax(logits, -1).select(-1, 2).masked_select(target.ne(kPaddingIndex)).sum();
  };
  EXPECT_LT(max_gradient_error(loss, model->parameters(), 6), 1e-5) << to_string(GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, LayerGradients, ::testing::ValuesIn(testing::all_schemes()),
                         testing::scheme_test_name);

}  // namespace
}  // namespace headcount
