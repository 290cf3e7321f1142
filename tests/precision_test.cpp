// Devices and precisions (runtime/runtime.h, runtime/autocast.h): device names, mixed
// precision scopes, the kernels in bf16, and bf16 training following fp32's losses.
// Parametrised by device as CTranslate2's tests are: the CUDA cases skip themselves on a
// machine without a GPU (scripts/gpu-check.sh runs them where there is one).
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <sstream>

#include "config/run_config.h"
#include "kernels/attention.h"
#include "kernels/dropout.h"
#include "kernels/reference/attention_reference.h"
#include "runtime/autocast.h"
#include "runtime/runtime.h"
#include "test_support.h"
#include "reversal_corpus.h"
#include "train/loss_scaler.h"
#include "train/trainer.h"

namespace headcount {
namespace {

bool has_gpu() { return torch::cuda::is_available(); }

TEST(Runtime, DeviceNames) {
  for (const char* good : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) EXPECT_NO_THROW(check_device_name(good)) << good;
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CUDA", "cuda:1:2", ""}) EXPECT_THROW(check_device_name(bad), std::invalid_argument) << bad;
  // A GPU config validates on any machine; whether the GPU is there is asked at the start.
  EXPECT_TRUE(validate(load_config("", {"train.device=cuda:3", "train.precision=fp16"})).empty());
  EXPECT_THROW(load_config("", {"train.device=cpu", "train.precision=fp16"}), ConfigError);
}

TEST(Runtime, AutoIsTheCpuWithoutAGpuAndCudaSaysWhatIsMissing) {
  if (has_gpu()) {
    const auto runtime = make_runtime("auto", Precision::Bf16, /*local_rank=*/1);
    EXPECT_TRUE(runtime.device.is_cuda());
    EXPECT_EQ(runtime.device.index(), 1 % torch::cuda::device_count());
    return;
  }
  EXPECT_TRUE(make_runtime("auto", Precision::Bf16).device.is_cpu());
  EXPECT_EQ(make_runtime("cpu", Precision::Bf16).compute_dtype(), torch::kBFloat16);
  try {
    make_runtime("cuda", Precision::Fp32);
    FAIL() << "cuda on a machine without a GPU";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA GPU is visible"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_runtime("auto", Precision::Fp16), std::invalid_argument);  // fp16 needs a GPU
}

class OnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cuda" && !has_gpu()) GTEST_SKIP() << "no CUDA GPU here";
  }
  torch::Device device() const { return torch::Device(GetParam()); }
};

TEST_P(OnDevice, AutocastRunsProductsInBf16AndRestoresTheStateAfter) {
  const auto x = torch::randn({4, 8}, device()), w = torch::randn({3, 8}, device());
  const Runtime bf16{device(), Precision::Bf16}, fp32{device(), Precision::Fp32};
  {
    const AutocastScope outer(bf16);
    EXPECT_EQ(torch::linear(x, w).scalar_type(), torch::kBFloat16);
    {
      const AutocastScope inner(fp32);  // fp32 changes nothing
      EXPECT_EQ(torch::linear(x, w).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(torch::linear(x, w).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::linear(x, w).scalar_type(), torch::kFloat);
}

TEST_P(OnDevice, AttentionOnBf16RowsMatchesFp32WithinBf16Rounding) {
  torch::manual_seed(3);
  const int64_t heads = 2, head_dim = 8, inner = heads * head_dim;
  const auto rows = torch::randn({3, 5, 3 * inner}, device());
  auto padding = torch::zeros({3, 5}, torch::TensorOptions().dtype(torch::kBool).device(device()));
  padding[1].narrow(0, 3, 2).fill_(true);
  const auto bias = torch::zeros({3, 5}, device()).masked_fill(padding, -INFINITY).view({3, 1, 1, 5});
  const AttentionShape shape{heads, head_dim, 0, inner, 2 * inner};
  const auto expected = scaled_dot_product_attention_reference(rows.to(torch::kDouble), rows.to(torch::kDouble),
                                                               bias.to(torch::kDouble), shape, 0.0);
  auto low = rows.to(torch::kBFloat16).detach().requires_grad_(true);
  const auto context = scaled_dot_product_attention(low, low, bias, shape);
  EXPECT_TRUE(torch::allclose(context.to(torch::kDouble), expected, 0.03, 0.03))
      << (context.to(torch::kDouble) - expected).abs().max().item<double>();
  context.sum().backward();
  ASSERT_TRUE(low.grad().defined());
  EXPECT_EQ(low.grad().scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::isfinite(low.grad()).all().item<bool>());
}

TEST(Precision, HashedDropoutInBf16KeepsTheFloatMaskAndScale) {
  const auto x = torch::rand({1000}) + 0.5;
  const auto in_float = hashed_dropout(x, 0.1, true, 42);
  const auto in_bf16 = hashed_dropout(x.to(torch::kBFloat16), 0.1, true, 42);
  EXPECT_TRUE(torch::equal(in_float.eq(0), in_bf16.eq(0)));  // the same elements dropped
  // Kept ones scaled by 1/0.9 in float, then rounded once to bf16: with the rounding of
  // the input to bf16, two roundings of at most 2^-9 each.
  EXPECT_TRUE(torch::allclose(in_bf16.to(torch::kFloat), in_float, 1.0 / 128, 0));
  // The scale is not rounded to bf16 first (1/0.9 would be 1.109): the kept values' mean
  // ratio to the input is 1/0.9 within the roundings' spread.
  const auto kept = in_bf16.ne(0);
  const double ratio = (in_bf16.to(torch::kFloat).masked_select(kept) / x.to(torch::kBFloat16).to(torch::kFloat).masked_select(kept)).mean().item<double>();
  EXPECT_NEAR(ratio, 1.0 / 0.9, 5e-4);
}

INSTANTIATE_TEST_SUITE_P(Devices, OnDevice, ::testing::Values("cpu", "cuda"), [](const auto& info) { return info.param; });

// bf16 against fp32 on the reversal task: the same seed, batches and schedule, so the two
// runs differ only by rounding; over 300 updates bf16's train losses stay within the
// tolerance below of fp32's, and both learn the task.
class TrainsOnDevice : public OnDevice {};

std::vector<double> train_in(const std::string& device, const std::string& precision, const std::string& corpus) {
  const auto dir = testing::fresh_dir("hc_precision", device + "_" + precision);
  const auto config = load_config(
      "", {"data.task=parallel", "data.train_prefix=" + corpus + "/train", "data.valid_prefix=" + corpus + "/valid",
           "data.test_prefix=" + corpus + "/test", "data.max_tokens=300", "model.d_model=32",
           "model.encoder.layers=2", "model.encoder.heads=4", "model.encoder.ffn_dim=64", "model.decoder.layers=2",
           "model.decoder.heads=4", "model.decoder.ffn_dim=64", "model.dropout=0", "model.residual=admin",
           "model.max_positions=64", "data.max_length=40", "train.lr=0.002", "train.warmup_updates=30",
           "train.max_updates=300", "train.log_every=25", "train.valid_every=1000", "train.valid_decode_limit=0",
           "eval.beam=1", "eval.max_length_b=12", "train.device=" + device, "train.precision=" + precision});
  std::ostringstream log;
  const auto summary = train({config, dir + "/run", false, 0}, log);
  EXPECT_EQ(summary.at("status"), "finished") << log.str();
  EXPECT_EQ(summary.at("precision"), precision);
  return testing::train_losses(dir + "/run");
}

TEST_P(TrainsOnDevice, Bf16TrainingFollowsFp32sLosses) {
  const auto corpus = testing::write_reversal_corpus(testing::fresh_dir("hc_precision", "corpus"), 400, 20, 10, 7);
  const auto fp32 = train_in(GetParam(), "fp32", corpus), bf16 = train_in(GetParam(), "bf16", corpus);
  ASSERT_EQ(fp32.size(), 12u);
  ASSERT_EQ(bf16.size(), 12u);
  for (size_t i = 0; i < fp32.size(); ++i)
    EXPECT_NEAR(bf16[i], fp32[i], 0.02 * fp32[i] + 0.01) << "log line " << i + 1 << " (update " << 25 * (i + 1) << ")";
  EXPECT_LT(bf16.back(), 0.5 * bf16.front());  // it learns
}

TEST_P(TrainsOnDevice, Fp16TrainingWithALossScaleFollowsFp32sLosses) {
  if (GetParam() == "cpu") GTEST_SKIP() << "fp16 runs on GPUs only";
  const auto corpus = testing::write_reversal_corpus(testing::fresh_dir("hc_precision", "corpus16"), 400, 20, 10, 7);
  const auto fp32 = train_in(GetParam(), "fp32", corpus), fp16 = train_in(GetParam(), "fp16", corpus);
  ASSERT_EQ(fp16.size(), fp32.size());
  for (size_t i = 0; i < fp32.size(); ++i) EXPECT_NEAR(fp16[i], fp32[i], 0.03 * fp32[i] + 0.02) << "log line " << i + 1;
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainsOnDevice, ::testing::Values("cpu", "cuda"), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace headcount

namespace headcount {
namespace {

// PyTorch's GradScaler rule, on the CPU path (the CUDA path is ATen's kernels of the same
// rule): unscale divides by scale x divisor, an overflow skips and halves, `interval`
// clean updates in a row double.
// A parameter whose gradient is `gradient`, as backward leaves it.
torch::Tensor with_gradient(const torch::Tensor& gradient) {
  auto parameter = torch::zeros_like(gradient).requires_grad_(true);
  parameter.mutable_grad() = gradient;
  return parameter;
}

TEST(LossScaler, OverflowSkipsAndHalvesCleanUpdatesGrow) {
  LossScaler scaler(torch::kCPU, /*initial_scale=*/1024, /*growth=*/2, /*backoff=*/0.5, /*interval=*/3);
  const auto p = with_gradient(torch::full({4}, 2048.0 * 10));
  EXPECT_TRUE(scaler.unscale({p, torch::zeros({3}).requires_grad_(true)}, 10));  // one without a gradient
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({4}, 2.0)));
  scaler.update();
  auto bad = torch::tensor({1.0, std::numeric_limits<double>::infinity()}, torch::kFloat);
  EXPECT_FALSE(scaler.unscale({with_gradient(torch::ones({2})), with_gradient(bad)}, 1));
  scaler.update();
  EXPECT_DOUBLE_EQ(scaler.value(), 512);
  EXPECT_EQ(scaler.clean_updates(), 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(scaler.unscale({with_gradient(torch::ones({2}))}, 1));
    scaler.update();
  }
  EXPECT_DOUBLE_EQ(scaler.value(), 1024);
  EXPECT_EQ(scaler.clean_updates(), 0);
  // A checkpoint's values bring both back.
  LossScaler restored(torch::kCPU);
  scaler.unscale({with_gradient(torch::ones({1}))}, 1);
  scaler.update();
  restored.restore(scaler.value(), scaler.clean_updates());
  EXPECT_DOUBLE_EQ(restored.value(), 1024);
  EXPECT_EQ(restored.clean_updates(), 1);
}

}  // namespace
}  // namespace headcount
