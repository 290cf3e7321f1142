// RQ1's measures on attention whose answer is known: uniform over k keys gives k effective
// positions, one-hot gives 1, rollout of identity attention is the identity, a function that
// copies one position has one position of gradient influence, and padding never counts.
#include "analysis/attention_analysis.h"
#include "test_support.h"

namespace headcount {
namespace {

TEST(Analysis, EntropyOfUniformAndOneHotAttention) {
  for (int64_t k : {1, 2, 5, 9}) {
    auto uniform = torch::full({k}, 1.0 / static_cast<double>(k), torch::kDouble);
    EXPECT_NEAR(row_entropy(uniform).exp().item<double>(), static_cast<double>(k), 1e-12) << k;
    EXPECT_EQ(positions_for_mass(uniform, 0.9), k == 1 ? 1 : static_cast<int64_t>(std::ceil(0.9 * k - 1e-9))) << k;
  }
  auto one_hot = torch::zeros({7}, torch::kDouble);
  one_hot[3] = 1.0;
  EXPECT_NEAR(row_entropy(one_hot).exp().item<double>(), 1.0, 1e-12);
  EXPECT_EQ(positions_for_mass(one_hot, 0.9), 1);
  // 0.5 / 0.3 / 0.2: two positions reach 0.8, three are needed for 0.9.
  EXPECT_EQ(positions_for_mass(torch::tensor({0.2, 0.5, 0.3}, torch::kDouble), 0.9), 3);
  EXPECT_EQ(positions_for_mass(torch::tensor({0.2, 0.5, 0.3}, torch::kDouble), 0.8), 2);
}

TEST(Analysis, RolloutOfIdentityAttentionIsTheIdentity) {
  const auto eye = torch::eye(6, torch::kDouble);
  const auto rolled = attention_rollout({eye, eye, eye});
  ASSERT_EQ(rolled.size(), 3u);
  for (const auto& r : rolled) EXPECT_TRUE(torch::allclose(r, eye));
  // Uniform attention mixed with the residual: after one layer each row is 1/2 on itself
  // and 1/(2n) on every position; rows always sum to 1.
  const int64_t n = 4;
  const auto uniform = torch::full({n, n}, 1.0 / n, torch::kDouble);
  const auto once = attention_rollout({uniform}).front();
  EXPECT_NEAR(once[0][0].item<double>(), 0.5 + 0.5 / n, 1e-12);
  EXPECT_NEAR(once[0][1].item<double>(), 0.5 / n, 1e-12);
  EXPECT_TRUE(torch::allclose(attention_rollout({uniform, uniform}).back().sum(-1), torch::ones({n}, torch::kDouble)));
}

TEST(Analysis, GradientOfACopyOfOnePositionCountsThatPositionOnly) {
  const int64_t n = 6, d = 5, copied = 2;
  auto copy = [&](const torch::Tensor& embedded) {
    return (embedded.select(1, copied).unsqueeze(1) * 3.0).expand({1, n, d});  // every output is 3 x input `copied`
  };
  const auto influence = gradient_influence(copy, torch::randn({1, n, d}, torch::kDouble), 4, 7);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(positions_for_mass(influence[i], 0.9), 1);
    for (int64_t j = 0; j < n; ++j)
      // ||d h_i / d e_copied||_F^2 = 9 d exactly here: every +-1 probe gives 9 d.
      EXPECT_NEAR(influence[i][j].item<double>(), j == copied ? 9.0 * d : 0.0, 1e-9) << i << " " << j;
  }
}

// A one-layer encoder whose queries are all zero: every score is equal, so each query's
// attention is uniform over the real keys of its sentence.
Transformer uniform_attention_model() {
  auto config = testing::tiny_config(ResidualScheme::PostLn, Architecture::Encoder);
  config.encoder = {1, 2, 0, 12};
  Transformer model(config);
  torch::NoGradGuard no_grad;
  auto& qkv = model->encoder->layers[0]->self_attention->query_key_value;
  qkv->weight.narrow(0, 0, 8).zero_();  // the query rows
  qkv->bias.zero_();
  return model;
}

TEST(Analysis, UniformAttentionOverTheRealKeysAndPaddingNeverCounts) {
  auto model = uniform_attention_model();
  Batch batch;
  // Sentences of 3 and 7 real tokens, padded to 7.
  batch.source = torch::tensor({{4, 5, 6, 0, 0, 0, 0}, {4, 5, 6, 7, 8, 9, 10}}, torch::kLong);
  AnalysisOptions options;
  options.gradient_limit = 2;
  const auto analysis = analyze_attention(model, {batch}, options);
  ASSERT_EQ(analysis.layers.size(), 1u);
  const auto& layer = analysis.layers.front();
  // Per query: 3 effective positions in the short sentence, 7 in the long one; averaged over
  // the 3 + 7 real queries (padding's queries and keys left out): (3*3 + 7*7) / 10.
  const double expected = (3.0 * 3 + 7.0 * 7) / 10.0;
  for (const auto& head : layer.heads) EXPECT_NEAR(head.effective_positions, expected, 1e-6);
  EXPECT_NEAR(layer.real_keys, expected, 1e-9);
  EXPECT_NEAR(layer.covered_positions, expected, 1e-9);  // 1/3 and 1/7 are both above 0.1
  EXPECT_EQ(analysis.examples, 2);
  // Rollout of a single layer: half on itself, half spread evenly; never past the real positions.
  ASSERT_EQ(analysis.rollout.size(), 1u);
  const auto& rollout = analysis.rollout.front();
  EXPECT_LE(rollout.effective_positions, expected + 1e-9);
  EXPECT_GT(rollout.effective_positions, 1.0);
  // The gradient measure sees only the real positions of each sentence.
  EXPECT_EQ(analysis.gradient.sentences, 2);
  EXPECT_NEAR(analysis.gradient.real_positions, expected, 1e-9);
  EXPECT_LE(analysis.gradient.positions_for_mass, expected + 1e-9);
  // The same sentences without their padding give the same numbers.
  Batch short_one, long_one;
  short_one.source = batch.source.narrow(0, 0, 1).narrow(1, 0, 3);
  long_one.source = batch.source.narrow(0, 1, 1);
  const auto unpadded = analyze_attention(model, {short_one, long_one}, options);
  EXPECT_NEAR(unpadded.layers.front().effective_positions, layer.effective_positions, 1e-6);
  EXPECT_NEAR(unpadded.rollout.front().effective_positions, rollout.effective_positions, 1e-6);
  EXPECT_NEAR(unpadded.gradient.positions_for_mass, analysis.gradient.positions_for_mass, 1e-9);
}

}  // namespace
}  // namespace headcount
