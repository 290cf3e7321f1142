// Padding never changes outputs at real positions; the decoder never sees later positions.
#include "model/transformer.h"
#include "test_support.h"

namespace headcount {
namespace {

class Masks : public ::testing::TestWithParam<ResidualScheme> {};

TEST_P(Masks, PaddingDoesNotChangeRealPositions) {
  torch::manual_seed(4);
  Transformer model(testing::tiny_config(GetParam()));
  model->eval();
  model->to(torch::kDouble);
  auto source = torch::tensor({{3, 4, 5}}, torch::kLong);
  auto padded_source = torch::tensor({{3, 4, 5, 0, 0, 0}}, torch::kLong);
  auto target = torch::tensor({{1, 6, 7, 8}}, torch::kLong);
  auto padded_target = torch::tensor({{1, 6, 7, 8, 0, 0}}, torch::kLong);

  auto memory = model->encode(source);
  auto padded_memory = model->encode(padded_source);
  EXPECT_TRUE(torch::allclose(memory, padded_memory.narrow(1, 0, 3), 1e-12, 1e-12));

  auto out = model->logits(model->decode(target, memory, source));
  auto padded_out = model->logits(model->decode(padded_target, padded_memory, padded_source));
  EXPECT_TRUE(torch::allclose(out, padded_out.narrow(1, 0, 4), 1e-12, 1e-12));
}

TEST_P(Masks, DecoderNeverSeesLaterPositions) {
  torch::manual_seed(5);
  for (auto architecture : {Architecture::EncoderDecoder, Architecture::Decoder}) {
    Transformer model(testing::tiny_config(GetParam(), architecture));
    model->eval();
    model->to(torch::kDouble);
    auto source = torch::tensor({{3, 4, 5}}, torch::kLong);
    auto memory = model->encoder ? model->encode(source) : torch::Tensor();
    auto a = torch::tensor({{1, 6, 7, 8, 9}}, torch::kLong);
    auto b = torch::tensor({{1, 6, 7, 2, 3}}, torch::kLong);  // differs from position 3 on
    auto out_a = model->decode(a, memory, source), out_b = model->decode(b, memory, source);
    EXPECT_TRUE(torch::equal(out_a.narrow(1, 0, 3), out_b.narrow(1, 0, 3))) << to_string(architecture);
    EXPECT_FALSE(torch::allclose(out_a.narrow(1, 3, 1), out_b.narrow(1, 3, 1)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, Masks, ::testing::ValuesIn(testing::all_schemes()),
                         testing::scheme_test_name);

}  // namespace
}  // namespace headcount
