// The attention kernel (forward and hand-written backward) against the plain-LibTorch
// reference, against finite differences with dropout on, and its dropout's statistics.
#include "kernels/attention.h"
#include "kernels/reference/attention_reference.h"
#include "model/attention.h"
#include "test_support.h"

namespace headcount {
namespace {

constexpr int64_t kBatch = 3, kHeads = 4, kHeadDim = 5, kTarget = 6, kSource = 7;

// Padding on the last keys of the second sentence, plus (for self-attention) causality.
torch::Tensor test_bias(int64_t target, int64_t source, bool causal, torch::ScalarType dtype) {
  auto padding = torch::zeros({kBatch, source}, torch::kBool);
  padding[1].narrow(0, source - 2, 2).fill_(true);
  auto bias = padding_bias(padding, dtype);
  if (causal) bias = bias + causal_bias(target, dtype, torch::kCPU);
  return bias;
}

struct Gradients {
  torch::Tensor output, query_grad, key_value_grad;
};

template <typename Attention>
Gradients run(Attention attention, const torch::Tensor& query_rows, const torch::Tensor& key_value_rows,
              const torch::Tensor& output_weights) {
  auto q = query_rows.detach().clone().requires_grad_(true);
  auto kv = key_value_rows.defined() ? key_value_rows.detach().clone().requires_grad_(true) : q;
  auto output = attention(q, kv);
  (output * output_weights).sum().backward();
  return {output.detach(), q.grad(), key_value_rows.defined() ? kv.grad() : torch::Tensor()};
}

TEST(AttentionKernel, SelfAttentionMatchesReference) {
  torch::manual_seed(11);
  const int64_t inner = kHeads * kHeadDim;
  auto packed = torch::randn({kBatch, kSource, 3 * inner});
  auto bias = test_bias(kSource, kSource, true, torch::kFloat);
  auto weights = torch::randn({kBatch, kSource, inner});
  const AttentionShape shape{kHeads, kHeadDim, 0, inner, 2 * inner};
  auto kernel = run([&](auto q, auto kv) { return scaled_dot_product_attention(q, kv, bias, shape); }, packed, {}, weights);
  auto reference = run([&](auto q, auto kv) { return scaled_dot_product_attention_reference(q, kv, bias, shape, 0.0); },
                       packed, {}, weights);
  EXPECT_TRUE(torch::allclose(kernel.output, reference.output, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(kernel.query_grad, reference.query_grad, 1e-4, 1e-6));
}

TEST(AttentionKernel, CrossAttentionMatchesReference) {
  torch::manual_seed(12);
  const int64_t inner = kHeads * kHeadDim;
  auto queries = torch::randn({kBatch, kTarget, inner});
  auto key_values = torch::randn({kBatch, kSource, 2 * inner});
  auto bias = test_bias(kTarget, kSource, false, torch::kFloat);
  auto weights = torch::randn({kBatch, kTarget, inner});
  const AttentionShape shape{kHeads, kHeadDim, 0, 0, inner};
  auto kernel = run([&](auto q, auto kv) { return scaled_dot_product_attention(q, kv, bias, shape); }, queries,
                    key_values, weights);
  auto reference = run([&](auto q, auto kv) { return scaled_dot_product_attention_reference(q, kv, bias, shape, 0.0); },
                       queries, key_values, weights);
  EXPECT_TRUE(torch::allclose(kernel.output, reference.output, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(kernel.query_grad, reference.query_grad, 1e-4, 1e-6));
  EXPECT_TRUE(torch::allclose(kernel.key_value_grad, reference.key_value_grad, 1e-4, 1e-6));
  // Padded keys get no gradient at all.
  EXPECT_EQ(kernel.key_value_grad[1].narrow(0, kSource - 2, 2).abs().max().item<float>(), 0.0f);
}

TEST(AttentionKernel, GradientsWithDropoutMatchFiniteDifferences) {
  torch::manual_seed(13);
  const int64_t inner = kHeads * kHeadDim;
  auto packed = torch::randn({kBatch, kSource, 3 * inner}, torch::kDouble).requires_grad_(true);
  auto bias = test_bias(kSource, kSource, true, torch::kDouble);
  auto weights = torch::randn({kBatch, kSource, inner}, torch::kDouble);
  const AttentionShape shape{kHeads, kHeadDim, 0, inner, 2 * inner};
  const AttentionDropout dropout{0.3, 12345};  // a fixed seed makes the masked function deterministic
  auto loss = [&] { return (scaled_dot_product_attention(packed, packed, bias, shape, dropout) * weights).sum(); };
  EXPECT_LT(testing::max_gradient_error(loss, {packed}, 40), 1e-6);
}

TEST(AttentionKernel, DropoutZeroesTheRightShareAndRescalesTheRest) {
  // Values are one-hot rows, so each context vector is its row of dropped probabilities.
  const int64_t heads = 2, length = 60, target = 50;
  auto queries = torch::randn({4, target, heads * length});
  auto key_values = torch::cat({torch::randn({4, length, heads * length}),
                                torch::eye(length).repeat({1, heads}).unsqueeze(0).expand({4, length, heads * length})},
                               2);
  const AttentionShape shape{heads, length, 0, 0, heads * length};
  const double p = 0.25;
  auto plain = scaled_dot_product_attention(queries, key_values, {}, shape);
  auto dropped = scaled_dot_product_attention(queries, key_values, {}, shape, {p, 7});
  const double zero_share = dropped.eq(0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(zero_share, p, 0.015);  // 24,000 draws: 5 standard deviations is 0.014
  auto kept = dropped.ne(0);
  EXPECT_TRUE(torch::allclose(dropped.masked_select(kept), plain.masked_select(kept) / (1 - p), 1e-5, 1e-7));
  // The mask is a function of the seed.
  EXPECT_TRUE(torch::equal(dropped, scaled_dot_product_attention(queries, key_values, {}, shape, {p, 7})));
  EXPECT_FALSE(torch::equal(dropped, scaled_dot_product_attention(queries, key_values, {}, shape, {p, 8})));
}

TEST(AttentionKernel, QueryThatMayLookNowhereGetsZeros) {
  const int64_t inner = kHeads * kHeadDim;
  auto queries = torch::randn({1, 2, inner}).requires_grad_(true);
  auto key_values = torch::randn({1, 3, 2 * inner}).requires_grad_(true);
  auto bias = torch::zeros({1, 1, 2, 3});
  bias[0][0][1].fill_(-std::numeric_limits<float>::infinity());
  auto output = scaled_dot_product_attention(queries, key_values, bias, {kHeads, kHeadDim, 0, 0, inner});
  output.sum().backward();
  EXPECT_EQ(output[0][1].abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::isfinite(queries.grad()).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(key_values.grad()).all().item<bool>());
}

TEST(AttentionKernel, ResultDoesNotDependOnTheThreadCount) {
  torch::manual_seed(14);
  const int64_t inner = 8 * 16;
  auto packed = torch::randn({64, 12, 3 * inner});
  const AttentionShape shape{8, 16, 0, inner, 2 * inner};
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto one = scaled_dot_product_attention(packed, packed, {}, shape, {0.1, 3});
  torch::set_num_threads(2);
  auto two = scaled_dot_product_attention(packed, packed, {}, shape, {0.1, 3});
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
}

}  // namespace
}  // namespace headcount
