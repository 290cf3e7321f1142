// Decoding: the incremental decoder equals the full one; beam 1 equals greedy; a wider
// beam never finds a worse-scoring output than greedy.
#include "data/vocabulary.h"
#include "eval/decode.h"
#include "kernels/inference_step.h"
#include "model/transformer.h"
#include "test_support.h"

namespace headcount {
namespace {

class Incremental : public ::testing::TestWithParam<ResidualScheme> {};

TEST_P(Incremental, StepByStepScoresEqualFullDecoderScores) {
  torch::manual_seed(11);
  for (auto architecture : {Architecture::EncoderDecoder, Architecture::Decoder}) {
    Transformer model(testing::tiny_config(GetParam(), architecture));
    model->eval();
    torch::NoGradGuard no_grad;
    auto source = torch::tensor({{3, 4, 5, 2}, {6, 2, 0, 0}}, torch::kLong);
    auto target = torch::tensor({{1, 7, 8, 9, 10}, {1, 4, 4, 5, 6}}, torch::kLong);
    auto memory = model->encoder ? model->encode(source) : torch::Tensor();
    auto full = model->logits(model->decode(target, memory, source));
    auto state = model->start_decoding(memory, source);
    for (int64_t t = 0; t < target.size(1); ++t) {
      auto step = model->decode_step(target.select(1, t), state);
      EXPECT_TRUE(torch::allclose(step, full.select(1, t), 1e-5, 1e-5)) << "position " << t;
    }
  }
}

// The fused decoder step (kernels/inference_step.h) against the per-layer path, which
// decode_step takes while gradients are on: gelu, three rows with encoder padding, learned
// residual weights away from 1, more steps than the self-attention cache's first buffer
// holds, and a beam reorder halfway (which leaves a cache without room to grow).
TEST_P(Incremental, FusedStepEqualsPerLayerStep) {
  for (auto architecture : {Architecture::EncoderDecoder, Architecture::Decoder}) {
    torch::manual_seed(21);
    auto config = testing::tiny_config(GetParam(), architecture);
    config.activation = Activation::Gelu;
    config.max_positions = 40;
    Transformer model(config);
    model->eval();
    {
      torch::NoGradGuard no_grad;
      for (auto& parameter : model->named_parameters())
        if (parameter.key().find("admin_scale") != std::string::npos) parameter.value().uniform_(0.5, 2.0);
    }
    auto source = torch::tensor({{3, 4, 5, 2}, {6, 2, 0, 0}, {7, 8, 2, 0}}, torch::kLong);
    auto tokens = torch::randint(3, 13, {3, 24}, torch::kLong);
    auto order = torch::tensor({2, 0, 0}, torch::kLong);
    auto run = [&](bool fused) {
      torch::GradMode::set_enabled(!fused);
      auto memory = model->encoder ? model->encode(source) : torch::Tensor();
      auto state = model->start_decoding(memory, source);
      std::vector<torch::Tensor> steps;
      for (int64_t t = 0; t < tokens.size(1); ++t) {
        if (t == 12) state.reorder(order);
        steps.push_back(model->decode_step(tokens.select(1, t), state).detach());
      }
      // The fused step keeps the cache as a view of a buffer with room, the per-layer one
      // as the concatenation: which path ran.
      EXPECT_EQ(state.layers[0].self.key_value.is_contiguous(), !fused);
      torch::GradMode::set_enabled(true);
      return steps;
    };
    auto per_layer = run(false), fused = run(true);
    for (size_t t = 0; t < fused.size(); ++t)
      EXPECT_TRUE(torch::allclose(fused[t], per_layer[t], 1e-5, 1e-5))
          << to_string(architecture) << " step " << t << ": largest difference "
          << (fused[t] - per_layer[t]).abs().max().item<float>();
  }
}

// The fused encoder pass against the layers' own forward (taken while gradients are on):
// gelu, two sentences with padding, learned residual weights away from 1; an attached
// attention recorder still sees every layer.
TEST_P(Incremental, FusedEncoderEqualsPerLayerEncoder) {
  torch::manual_seed(22);
  auto config = testing::tiny_config(GetParam(), Architecture::Encoder);
  config.activation = Activation::Gelu;
  Transformer model(config);
  model->eval();
  {
    torch::NoGradGuard no_grad;
    for (auto& parameter : model->named_parameters())
      if (parameter.key().find("admin_scale") != std::string::npos) parameter.value().uniform_(0.5, 2.0);
  }
  auto source = torch::tensor({{3, 4, 5, 6, 7, 2}, {6, 5, 2, 0, 0, 0}}, torch::kLong);
  auto per_layer = model->encode(source).detach();
  torch::NoGradGuard no_grad;
  auto embedded = model->embed_source(source);
  ASSERT_TRUE(fused_encoder_applies(*model->encoder, embedded, padding_bias(source.eq(kPaddingIndex), torch::kFloat)));
  auto fused = model->encode(source);
  EXPECT_TRUE(torch::allclose(fused, per_layer, 1e-5, 1e-5))
      << "largest difference " << (fused - per_layer).abs().max().item<float>();

  AttentionRecorder recorder;
  model->encoder->attach_recorder(&recorder, "encoder");
  EXPECT_FALSE(fused_encoder_applies(*model->encoder, embedded, {}));
  auto recorded = model->encode(source);
  model->encoder->attach_recorder(nullptr, "encoder");
  EXPECT_EQ(recorder.entries.size(), model->encoder->layers.size());
  EXPECT_TRUE(torch::allclose(recorded, per_layer, 1e-5, 1e-5));
  // More rows than the pass takes: the layers' own forward.
  EXPECT_FALSE(fused_encoder_applies(*model->encoder, torch::zeros({1, kFusedEncoderMaxRows + 1, config.d_model}), {}));
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, Incremental, ::testing::ValuesIn(testing::all_schemes()),
                         testing::scheme_test_name);

// A model trained for a few steps to copy short sequences, so that it emits EOS.
Transformer copy_model() {
  torch::manual_seed(12);
  auto config = testing::tiny_config(ResidualScheme::PreLn);
  config.d_model = 32;
  config.encoder = config.decoder = {2, 4, 0, 64};
  config.source_vocab_size = config.target_vocab_size = 12;
  Transformer model(config);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 150; ++step) {
    auto body = torch::randint(4, 12, {16, 5}, torch::kLong);
    auto eos = torch::full({16, 1}, Vocabulary::kEnd, torch::kLong);
    auto source = torch::cat({body, eos}, 1);
    auto input = torch::cat({torch::full({16, 1}, Vocabulary::kBegin, torch::kLong), body}, 1);
    auto logits = model->logits(model->decode(input, model->encode(source), source));
    auto loss = torch::cross_entropy_loss(logits.reshape({-1, 12}), source.reshape(-1));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  model->eval();
  return model;
}

double sequence_log_probability(Transformer& model, const torch::Tensor& source_row, const std::vector<int64_t>& tokens) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> input{Vocabulary::kBegin}, output = tokens;
  input.insert(input.end(), tokens.begin(), tokens.end());
  output.push_back(Vocabulary::kEnd);
  auto source = source_row.unsqueeze(0);
  auto logits = model->logits(model->decode(torch::tensor(input).unsqueeze(0), model->encode(source), source));
  return torch::log_softmax(logits.squeeze(0).to(torch::kDouble), -1)
      .gather(1, torch::tensor(output).unsqueeze(1))
      .sum()
      .item<double>();
}

TEST(Decode, BeamOfOneEqualsGreedy) {
  auto model = copy_model();
  torch::manual_seed(13);
  auto source = torch::cat({torch::randint(4, 12, {20, 5}, torch::kLong), torch::full({20, 1}, 2, torch::kLong)}, 1);
  source.index_put_({torch::indexing::Slice(0, 5), torch::indexing::Slice(3, 6)}, 0);  // some padding
  source.index_put_({torch::indexing::Slice(0, 5), 3}, Vocabulary::kEnd);
  DecodeOptions options;
  options.max_length_b = 10;
  torch::NoGradGuard no_grad;
  auto greedy = greedy_decode(model, source, options);
  options.beam = 1;
  EXPECT_EQ(beam_search(model, source, options), greedy);
  int copied = 0;  // the model learned the task, so the test exercises EOS handling
  for (int64_t row = 5; row < 20; ++row) {
    auto expected = source[row].narrow(0, 0, 5).contiguous();
    copied += greedy[row] == std::vector<int64_t>(expected.data_ptr<int64_t>(), expected.data_ptr<int64_t>() + 5);
  }
  EXPECT_GE(copied, 10);
}

TEST(Decode, WiderBeamNeverScoresBelowGreedy) {
  auto model = copy_model();
  torch::manual_seed(14);
  auto source = torch::cat({torch::randint(4, 12, {12, 5}, torch::kLong), torch::full({12, 1}, 2, torch::kLong)}, 1);
  DecodeOptions options;
  options.max_length_b = 12;
  options.length_penalty = 0.0;  // raw log-probabilities, so "better" is well defined
  auto greedy = decode(model, source, options);
  options.beam = 4;
  auto beam = decode(model, source, options);
  for (int64_t row = 0; row < 12; ++row)
    EXPECT_GE(sequence_log_probability(model, source[row], beam[row]),
              sequence_log_probability(model, source[row], greedy[row]) - 1e-9)
        << "row " << row;
}

}  // namespace
}  // namespace headcount
