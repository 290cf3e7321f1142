// The layers' own description for the inference kernels (kernels/inference_step.h, built
// by model/layer.h's inference_weights): it must hold every parameter of every layer, so a
// parameter added to a layer and not to its description fails here instead of being
// silently left out of decoding. That the kernels compute what the layers' forward does
// from it is tests/decode_test.cpp's.
#include <gtest/gtest.h>

#include <set>

#include "kernels/inference_step.h"
#include "model/transformer.h"
#include "test_support.h"

namespace headcount {
namespace {

class InferenceWeights : public ::testing::TestWithParam<ResidualScheme> {};

void add(std::set<const void*>& seen, const torch::Tensor& t) {
  if (t.defined()) seen.insert(t.unsafeGetTensorImpl());
}

std::set<const void*> described(const LayerWeights& layer) {
  std::set<const void*> seen;
  for (const auto& s : layer.sublayers) {
    for (const auto* linear : {&s.input, &s.output, &s.memory}) add(seen, linear->weight), add(seen, linear->bias);
    add(seen, s.residual.weight), add(seen, s.residual.norm.gamma), add(seen, s.residual.norm.beta);
  }
  return seen;
}

TEST_P(InferenceWeights, EveryParameterOfEveryLayerIsDescribed) {
  Transformer model(testing::tiny_config(GetParam()));
  model->eval();
  for (auto* stack : {&model->encoder, &model->decoder}) {
    const auto weights = (*stack)->inference_weights();
    ASSERT_TRUE(weights.has_value());
    ASSERT_EQ(weights->layers.size(), (*stack)->layers.size());
    for (size_t i = 0; i < weights->layers.size(); ++i) {
      std::set<const void*> parameters;
      for (const auto& p : (*stack)->layers[i]->parameters()) parameters.insert(p.unsafeGetTensorImpl());
      EXPECT_EQ(described(weights->layers[i]), parameters) << "layer " << i;
    }
    EXPECT_EQ(weights->final_norm.has_value(), static_cast<bool>((*stack)->final_norm));
  }
  EXPECT_EQ(model->decoder->inference_weights()->layers[0].sublayers.size(), 3u);  // self, cross, FFN
  EXPECT_EQ(model->encoder->inference_weights()->layers[0].sublayers.size(), 2u);
}

TEST_P(InferenceWeights, NoneWhileTrainingProfilingOrRecording) {
  Transformer model(testing::tiny_config(GetParam()));
  model->train();
  EXPECT_FALSE(model->encoder->inference_weights().has_value());
  model->eval();
  VarianceProbe probe;
  model->encoder->attach_probe(&probe);
  EXPECT_FALSE(model->encoder->inference_weights().has_value());
  model->encoder->attach_probe(nullptr);
  AttentionRecorder recorder;
  model->decoder->attach_recorder(&recorder, "decoder");
  EXPECT_FALSE(model->decoder->inference_weights().has_value());
  model->decoder->attach_recorder(nullptr, "decoder");
  EXPECT_TRUE(model->decoder->inference_weights().has_value());
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, InferenceWeights, ::testing::ValuesIn(testing::all_schemes()),
                         testing::scheme_test_name);

}  // namespace
}  // namespace headcount
