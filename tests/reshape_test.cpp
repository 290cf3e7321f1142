// Reshaping multi-head stacks into single-head ones keeps the weights budget.
#include "model/reshape.h"
#include "model/stack.h"
#include "model/transformer.h"
#include "test_support.h"

namespace headcount {
namespace {

struct Case {
  const char* name;
  int64_t layers, heads, d_model, ffn, deep_layers, deep_ffn;
};

class ReshapeParity : public ::testing::TestWithParam<Case> {};

TEST_P(ReshapeParity, AttentionAndFfnWeightsEqualTotalsWithinOnePercent) {
  const auto c = GetParam();
  StackConfig shallow{c.layers, c.heads, 0, c.ffn};
  auto deep = reshape_stack(shallow, c.d_model, 1);
  EXPECT_EQ(deep.layers, c.deep_layers);
  EXPECT_EQ(deep.heads, 1);
  EXPECT_EQ(deep.head_dim, c.d_model / c.heads);
  EXPECT_EQ(deep.ffn_dim, c.deep_ffn);
  for (bool cross : {false, true}) {
    auto a = count_stack_parameters(shallow, c.d_model, cross, ResidualScheme::PostLn);
    auto b = count_stack_parameters(deep, c.d_model, cross, ResidualScheme::PostLn);
    EXPECT_EQ(a.attention_ffn_weights, b.attention_ffn_weights) << c.name;
    EXPECT_GT(b.total, a.total);
    EXPECT_LT(static_cast<double>(b.total) / a.total - 1.0, 0.01) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(PaperConfigs, ReshapeParity,
                         ::testing::Values(Case{"transformer_base", 6, 8, 512, 2048, 48, 256},
                                           Case{"bert_base", 12, 12, 768, 3072, 144, 256},
                                           Case{"bert_large", 24, 16, 1024, 4096, 384, 256}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Reshape, CountMatchesTheBuiltStackForEveryScheme) {
  ModelConfig config = testing::tiny_config(ResidualScheme::PostLn);
  StackConfig stack{3, 4, 0, 16};
  for (auto scheme : testing::all_schemes()) {
    config.residual = scheme;
    for (bool cross : {false, true}) {
      const StackPlace place{stack.layers, cross ? stack.layers : 0, !cross,
                             stack.layers * StackConfig::sublayers_per_layer(cross)};
      TransformerStack built(config, stack, cross, place);
      EXPECT_EQ(parameter_count(*built), count_stack_parameters(stack, config.d_model, cross, scheme).total)
          << to_string(scheme) << " cross=" << cross;
    }
  }
}

TEST(Reshape, ToIntermediateHeadCounts) {
  StackConfig shallow{6, 8, 0, 2048};
  auto four = reshape_stack(shallow, 512, 4);
  EXPECT_EQ(four.layers, 12);
  EXPECT_EQ(four.heads, 4);
  EXPECT_EQ(four.head_dim, 64);
  EXPECT_EQ(four.ffn_dim, 1024);
  EXPECT_EQ(count_stack_parameters(four, 512, false, ResidualScheme::PostLn).attention_ffn_weights,
            count_stack_parameters(shallow, 512, false, ResidualScheme::PostLn).attention_ffn_weights);
}

TEST(Reshape, ModelReshapesBothStacks) {
  auto config = testing::tiny_config(ResidualScheme::Admin);
  config.d_model = 16;
  config.encoder = {2, 4, 0, 32};
  config.decoder = {3, 2, 0, 8};
  auto deep = reshape_model(config, 1);
  EXPECT_EQ(deep.encoder.layers, 8);
  EXPECT_EQ(deep.encoder.head_dim, 4);
  EXPECT_EQ(deep.encoder.ffn_dim, 8);
  EXPECT_EQ(deep.decoder.layers, 6);
  EXPECT_EQ(deep.decoder.head_dim, 8);
  EXPECT_EQ(deep.decoder.ffn_dim, 4);
}

TEST(Reshape, RefusesNumbersThatDoNotDivide) {
  EXPECT_THROW(reshape_stack({6, 8, 0, 2048}, 512, 3), std::invalid_argument);   // 3 does not divide 8
  EXPECT_THROW(reshape_stack({6, 8, 0, 100}, 512, 1), std::invalid_argument);    // FFN 100 / 8
  EXPECT_THROW(reshape_stack({6, 6, 0, 2048}, 500, 1), std::invalid_argument);   // d 500 / 6
  EXPECT_THROW(reshape_stack({6, 8, 0, 2048}, 512, 0), std::invalid_argument);
  try {
    reshape_stack({6, 8, 0, 2048}, 512, 3);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("3 does not divide 8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace headcount
