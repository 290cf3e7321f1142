// All decoder layers' keys and values of the encoder output in one product
// (model/memory_projection.h) against each layer's own projection: values, and the
// gradients of memory, weights and biases when some layers' projections go unused.
#include "model/memory_projection.h"
#include "test_support.h"

namespace headcount {
namespace {

std::vector<MultiHeadAttention> cross_attentions(int64_t count, torch::ScalarType dtype) {
  torch::manual_seed(4);
  std::vector<MultiHeadAttention> attentions;
  for (int64_t i = 0; i < count; ++i) {
    attentions.emplace_back(8, 2, 3, 0.0, false);
    attentions.back()->to(dtype);
    torch::NoGradGuard no_grad;
    attentions.back()->key_value->bias.uniform_(-1, 1);  // not zero, so a bias mix-up shows
  }
  return attentions;
}

// rows of memory: 2 x 5 (a product LibTorch computes) and 40 x 5 (enough rows for oneDNN).
class MemoryProjection : public ::testing::TestWithParam<int64_t> {};

TEST_P(MemoryProjection, EqualsEachLayersOwnProjection) {
  auto attentions = cross_attentions(3, torch::kFloat);
  const auto memory = torch::randn({GetParam(), 5, 8});
  torch::NoGradGuard no_grad;
  const auto joint = project_memory_for_layers(attentions, memory);
  ASSERT_EQ(joint.size(), 3u);
  for (size_t i = 0; i < joint.size(); ++i)
    EXPECT_TRUE(torch::allclose(joint[i].key_value, attentions[i]->key_value->forward(memory), 1e-5, 1e-5)) << i;
}

TEST_P(MemoryProjection, GradientsEqualEachLayersOwnWhereSomeAreUnused) {
  auto attentions = cross_attentions(3, torch::kDouble);
  const auto memory_values = torch::randn({GetParam(), 5, 8}, torch::kDouble);
  const auto weights = torch::randn({GetParam(), 5, 12}, torch::kDouble);
  auto gradients = [&](bool joint) {
    for (auto& a : attentions) a->zero_grad();
    auto memory = memory_values.clone().requires_grad_(true);
    std::vector<torch::Tensor> projected;
    if (joint) {
      for (auto& cache : project_memory_for_layers(attentions, memory)) projected.push_back(cache.key_value);
    } else {
      for (auto& a : attentions) projected.push_back(a->key_value->forward(memory));
    }
    // Layer 1's projection goes unused: its weights get no gradient, or zeros.
    ((projected[0] * weights).sum() + (projected[2].tanh() * weights).sum()).backward();
    std::vector<torch::Tensor> out{memory.grad()};
    for (auto& a : attentions)
      for (const auto& p : {a->key_value->weight, a->key_value->bias})
        out.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
    return out;
  };
  const auto joint = gradients(true), separate = gradients(false);
  ASSERT_EQ(joint.size(), separate.size());
  for (size_t i = 0; i < joint.size(); ++i)
    EXPECT_TRUE(torch::allclose(joint[i], separate[i], 1e-10, 1e-10))
        << "gradient " << i << ", max difference " << (joint[i] - separate[i]).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Rows, MemoryProjection, ::testing::Values(2, 40));

TEST(SplitColumns, PiecesAreTheColumnRangesAndTheirGradientsJoin) {
  const auto y = torch::arange(24, torch::kDouble).reshape({2, 12}).requires_grad_(true);
  const auto pieces = split_columns(y, {5, 3, 4});
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_TRUE(torch::equal(pieces[1], y.detach().narrow(1, 5, 3)));
  (pieces[0].sum() * 2 + pieces[2].sum() * 3).backward();
  auto expected = torch::zeros({2, 12}, torch::kDouble);
  expected.narrow(1, 0, 5).fill_(2);
  expected.narrow(1, 8, 4).fill_(3);
  EXPECT_TRUE(torch::equal(y.grad(), expected));
}

}  // namespace
}  // namespace headcount
