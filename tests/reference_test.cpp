// headcount's model against numbers from outside the code, the way llm.c pins its C model to
// PyTorch: tests/reference/make_fixture.py writes a tiny encoder-decoder from the formulas in
// docs/method.md, with fixed weights and padded inputs, and records its logits, its
// label-smoothed loss and every parameter's gradient for four residual schemes (in double
// precision). Here headcount builds the same model, loads the same weights by name, and
// must reproduce all of it.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "data/parallel_text.h"
#include "model/transformer.h"
#include "task/loss.h"
#include "test_support.h"

namespace headcount {
namespace {

constexpr double kTolerance = 1e-5;  // relative, per tensor: the largest difference over the largest value

// The script's weight formula (make_fixture.py: phase, fixed_weight).
double phase(const std::string& name) {
  int64_t sum = 0;
  for (size_t k = 0; k < name.size(); ++k) sum += static_cast<int64_t>(k + 1) * static_cast<unsigned char>(name[k]);
  return static_cast<double>(sum % 997) / 997.0 * 2.0 * M_PI;
}

torch::Tensor fixed_weight(const std::string& name, at::IntArrayRef shape) {
  const int64_t n = c10::multiply_integers(shape);
  auto wave = torch::sin(0.731 * torch::arange(n, torch::kDouble) + phase(name));
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  torch::Tensor values = ends_with("norm.weight") ? 1.0 + 0.2 * wave : ends_with("admin_scale") ? 1.5 + 0.3 * wave : 0.5 * wave;
  values = values.reshape(shape).clone();
  if (ends_with("embedding.weight")) values[0].zero_();
  return values;
}

double relative_error(const torch::Tensor& actual, const std::vector<double>& expected) {
  auto reference = torch::tensor(expected, torch::kDouble);
  const double scale = std::max(reference.abs().max().item<double>(), 1e-300);
  return (actual.reshape(-1) - reference).abs().max().item<double>() / scale;
}

nlohmann::json read_fixture() {
  std::string text;
  for (const auto& line : read_lines(std::string(HEADCOUNT_SOURCE_DIR) + "/tests/reference/seq2seq_fixture.json.gz"))
    text += line;
  return nlohmann::json::parse(text);
}

ModelConfig fixture_model(const nlohmann::json& m, ResidualScheme scheme) {
  ModelConfig c;
  c.architecture = Architecture::EncoderDecoder;
  c.d_model = m.at("d_model");
  c.encoder = {m.at("encoder_layers"), m.at("heads"), 0, m.at("ffn_dim")};
  c.decoder = {m.at("decoder_layers"), m.at("heads"), 0, m.at("ffn_dim")};
  c.dropout = c.attention_dropout = c.activation_dropout = 0.0;
  c.residual = scheme;
  c.source_vocab_size = m.at("source_vocab_size");
  c.target_vocab_size = m.at("target_vocab_size");
  c.max_positions = m.at("max_positions");
  c.share_decoder_input_output_embed = true;
  return c;
}

torch::Tensor token_tensor(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& t : row) flat.push_back(t);
  return torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

TEST(Reference, ForwardAndBackwardMatchPyTorchForEveryScheme) {
  const auto fixture = read_fixture();
  const auto source = token_tensor(fixture.at("source"));
  const auto target_input = token_tensor(fixture.at("target_input"));
  const auto target_output = token_tensor(fixture.at("target_output"));
  ASSERT_EQ(fixture.at("schemes").size(), 4u);  // post-ln, pre-ln, admin, deepnorm
  for (const auto& [scheme_name, expected] : fixture.at("schemes").items()) {
    SCOPED_TRACE(scheme_name);
    Transformer model(fixture_model(fixture.at("model"), parse_residual_scheme(scheme_name)));
    model->to(torch::kDouble);
    model->eval();
    auto parameters = model->named_parameters();
    std::set<std::string> ours, theirs;
    for (const auto& item : parameters) ours.insert(item.key());
    for (const auto& [name, gradient] : expected.at("gradients").items()) theirs.insert(name);
    ASSERT_EQ(ours, theirs);
    {
      torch::NoGradGuard no_grad;
      for (auto& item : parameters) item.value().copy_(fixed_weight(item.key(), item.value().sizes()));
    }
    auto logits = model->logits(model->decode(target_input, model->encode(source), source));
    EXPECT_LT(relative_error(logits, expected.at("logits").get<std::vector<double>>()), kTolerance);
    auto sums = label_smoothed_cross_entropy(logits, target_output, fixture.at("label_smoothing").get<double>());
    auto loss = sums.loss / static_cast<double>(sums.tokens);
    const double expected_loss = expected.at("loss");
    EXPECT_LT(std::abs(loss.item<double>() - expected_loss) / expected_loss, kTolerance);
    loss.backward();
    for (auto& item : parameters) {
      ASSERT_TRUE(item.value().grad().defined()) << item.key();
      const double error = relative_error(item.value().grad(), expected.at("gradients").at(item.key()).get<std::vector<double>>());
      EXPECT_LT(error, kTolerance) << item.key();
    }
  }
}

}  // namespace
}  // namespace headcount
