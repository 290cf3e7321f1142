// Dropout as a forward/backward pair: the share it zeroes, the scale of what it keeps,
// its gradient (against finite differences), and that its mask is a function of the
// seed and the element alone.
#include <gtest/gtest.h>
#include <atomic>
#include <torch/torch.h>

#include "kernels/dropout.h"
#include "test_support.h"

namespace headcount {
namespace {

TEST(Dropout, ZeroesTheRightShareAndRescalesTheRest) {
  const double p = 0.1;
  auto input = torch::rand({400, 250}) + 0.5;  // never zero, so every zero is a dropped element
  auto output = hashed_dropout(input, p, true, 21);
  const double zero_share = output.eq(0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(zero_share, p, 0.005);  // 100,000 draws: 5 standard deviations is 0.0047
  auto kept = output.ne(0);
  EXPECT_TRUE(torch::allclose(output.masked_select(kept), input.masked_select(kept) / (1 - p), 1e-6, 1e-7));
  // Unbiased: the mean of the output estimates the mean of the input.
  EXPECT_NEAR(output.mean().item<double>(), input.mean().item<double>(), 0.01);
}

TEST(Dropout, IsTheIdentityWhenNotTrainingOrProbabilityZero) {
  auto input = torch::randn({5, 7});
  EXPECT_TRUE(hashed_dropout(input, 0.3, false).is_same(input));
  EXPECT_TRUE(hashed_dropout(input, 0.0, true).is_same(input));
}

TEST(Dropout, MaskIsAFunctionOfSeedAndElementOnly) {
  auto input = torch::randn({64, 12, 128});
  auto first = hashed_dropout(input, 0.2, true, 5);
  EXPECT_TRUE(torch::equal(first, hashed_dropout(input, 0.2, true, 5)));
  EXPECT_FALSE(torch::equal(first, hashed_dropout(input, 0.2, true, 6)));
  // A transposed view drops by logical position, as its contiguous copy does.
  auto transposed = input.transpose(0, 1);
  EXPECT_TRUE(
      torch::equal(hashed_dropout(transposed, 0.2, true, 5), hashed_dropout(transposed.contiguous(), 0.2, true, 5)));
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto one = hashed_dropout(input, 0.2, true, 5);
  torch::set_num_threads(2);
  auto two = hashed_dropout(input, 0.2, true, 5);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
  EXPECT_TRUE(torch::equal(first, one));
}

// at::parallel_for is `#pragma omp parallel` inlined from LibTorch's header, so a loop
// splits across threads only in code compiled with OpenMP (the library's flags, which the
// tests share): without them every kernel ran in one thread, and the one-against-two-threads
// comparison above compared a thread with itself.
TEST(Dropout, ParallelLoopsSplitAcrossTheThreadsAsked) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(2);
  std::atomic<int> chunks{0};
  at::parallel_for(0, 2, 1, [&](int64_t, int64_t) { ++chunks; });
  torch::set_num_threads(threads);
  EXPECT_EQ(chunks.load(), 2);
}

TEST(Dropout, SeedComesFromTheDefaultGenerator) {
  auto input = torch::randn({32, 32});
  torch::manual_seed(3);
  auto first = hashed_dropout(input, 0.5, true);
  torch::manual_seed(3);
  EXPECT_TRUE(torch::equal(first, hashed_dropout(input, 0.5, true)));
  EXPECT_FALSE(torch::equal(first, hashed_dropout(input, 0.5, true)));
}

TEST(Dropout, GradientIsTheSameMaskAndMatchesFiniteDifferences) {
  torch::manual_seed(4);
  auto input = torch::randn({6, 9}, torch::kDouble).requires_grad_(true);
  auto weights = torch::randn({6, 9}, torch::kDouble);
  auto output = hashed_dropout(input, 0.4, true, 17);
  (output * weights).sum().backward();
  // d(output)/d(input) is 1/(1-p) where kept and 0 where dropped, elementwise.
  auto factor = output.detach() / input.detach();
  EXPECT_TRUE(torch::allclose(input.grad(), weights * factor, 1e-12, 1e-12));
  EXPECT_GT(output.eq(0).sum().item<int64_t>(), 0);
  auto loss = [&] { return (hashed_dropout(input, 0.4, true, 17) * weights).sum(); };
  EXPECT_LT(testing::max_gradient_error(loss, {input}, 20), 1e-8);
}

}  // namespace
}  // namespace headcount
