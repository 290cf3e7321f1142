// headcount bench's pieces (study/step_shape.h, study/throughput.h, study/reference_step.h):
// the matrix-product work of a shape counted by hand, the named shapes being the reshapings
// the speed targets compare, timings that agree with their own FLOP counts, and the
// reference run as a child whose figures are read back (a stand-in script, so no PyTorch
// is needed here).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/allocator.h"
#include "study/reference_step.h"
#include "study/throughput.h"
#include "test_support.h"
#include "util/process.h"

namespace headcount {
namespace {

// One layer each way, 2 heads of 4 (inner width 8), d 8, FFN 16, one sentence of 3 source
// and 2 target tokens, a vocabulary of 10.
StepShape hand_shape() {
  StepShape s;
  s.encoder_layers = s.decoder_layers = 1;
  s.heads = 2, s.head_dim = 4, s.d_model = 8, s.ffn_dim = 16;
  s.batch = 1, s.source_length = 3, s.target_length = 2, s.vocabulary = 10;
  return s;
}

TEST(StepShape, CountsTheMatrixProductsOfAForwardPassByHand) {
  // Encoder, per source token: Q, K, V, O (4 x 2*8*8 = 512), scores and weighted sum over
  // 3 keys (2 x 2*3*8 = 96), FFN (2 x 2*8*16 = 512): 1,120; 3 tokens: 3,360.
  // Cross-attention keys and values of the 3 source tokens: 3 x 2 x 2*8*8 = 768.
  // Decoder, per target token (2 self-attention keys): self-attention 512 + 2*2*2*8 = 576,
  // cross-attention Q and O 256 and scores and sum over 3 keys 96, FFN 512, output layer
  // 2*8*10 = 160: 1,600; 2 tokens: 3,200.
  EXPECT_DOUBLE_EQ(forward_flops(hand_shape()), 3360 + 768 + 3200);
  EXPECT_DOUBLE_EQ(training_flops(hand_shape()), 3 * (3360 + 768 + 3200));
  // Decoding 2 tokens: the first attends 1 position (1,568), the second 2 (1,600).
  EXPECT_DOUBLE_EQ(decoding_flops(hand_shape(), 2), 3360 + 768 + 1568 + 1600);
  auto two = hand_shape();
  two.batch = 2;
  EXPECT_DOUBLE_EQ(forward_flops(two), 2 * forward_flops(hand_shape()));
}

TEST(StepShape, NamedDeepShapesAreTheReshapingsOfTheShallowOnes) {
  EXPECT_EQ(step_shape_names(),
            (std::vector<std::string>{"demo-shallow", "demo-deep", "g2p-base", "base-shallow", "base-deep", "large-shallow",
                                      "large-deep"}));
  for (const auto& [shallow_name, deep_name] :
       std::vector<std::pair<std::string, std::string>>{
           {"demo-shallow", "demo-deep"}, {"base-shallow", "base-deep"}, {"large-shallow", "large-deep"}}) {
    const auto shallow = named_step_shape(shallow_name), deep = named_step_shape(deep_name);
    EXPECT_EQ(deep.heads, 1);
    EXPECT_EQ(deep.encoder_layers, shallow.encoder_layers * shallow.heads) << deep_name;
    EXPECT_EQ(deep.ffn_dim * deep.encoder_layers, shallow.ffn_dim * shallow.encoder_layers) << deep_name;
    EXPECT_EQ(deep.head_dim, shallow.head_dim);
    EXPECT_EQ(deep.batch, shallow.batch);
    // The same products, split into more layers: equal work, so equal FLOPs.
    EXPECT_DOUBLE_EQ(forward_flops(deep), forward_flops(shallow)) << deep_name;
  }
  try {
    named_step_shape("bert-huge");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bert-huge"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("base-deep"), std::string::npos);
  }
}

TEST(Throughput, TimingsAgreeWithTheirFlopCountsAndTokens) {
  auto s = hand_shape();
  s.batch = 4, s.steps = 3;
  const auto train = measure_training_step(s);
  ASSERT_GT(train.step_ms, 0);
  EXPECT_NEAR(train.gflops * 1e9 * train.step_ms / 1000, training_flops(s), 1e-6 * training_flops(s));
  EXPECT_NEAR(train.tokens_per_s * train.step_ms / 1000, s.batch * s.target_length, 1e-6);
  EXPECT_GT(train.peak_resident_mib, 0);
  EXPECT_GE(train.peak_resident_mib, train.resident_at_end_mib);
  const auto decode = measure_decoding(s);
  ASSERT_GT(decode.step_ms, 0);
  // Decodes as many tokens as the source has: 3.
  EXPECT_NEAR(decode.gflops * 1e9 * decode.step_ms / 1000, decoding_flops(s, 3), 1e-6 * decoding_flops(s, 3));
  EXPECT_NEAR(decode.tokens_per_s * decode.step_ms / 1000, s.batch * 3, 1e-6);
  EXPECT_EQ(decode.parameters, train.parameters);
}

TEST(Throughput, MeasuresAMatrixProductPeak) {
  const double peak = measure_matmul_peak_gflops(Runtime{});
  // Any CPU of the last decade does more than a GFLOP/s on one core; none does 100 TFLOP/s.
  EXPECT_GT(peak, 1.0);
  EXPECT_LT(peak, 1e5);
}

std::string write_script(const std::string& dir, const std::string& text) {
  const auto path = dir + "/reference.sh";
  std::ofstream(path) << text;
  return path;
}

TEST(ReferenceStep, PassesTheShapeAndReadsTheLastFigures) {
  const auto dir = testing::fresh_dir("hc_reference", "args");
  // A stand-in for the Python script: records its arguments, prints noise and two result
  // lines (the last one counts), as the real one prints warnings before its line.
  const auto script = write_script(dir, "echo \"$@\" > " + dir + "/args\n"
                                        "echo 'UserWarning: something'\n"
                                        "echo 'params=1 step_ms=2.0 tokens_per_s=3'\n"
                                        "echo 'params=1234 step_ms=56.5 tokens_per_s=7890'\n");
  auto s = named_step_shape("g2p-base");
  const auto timing = run_reference_step(s, 2, Runtime{}, "sh", script);
  EXPECT_EQ(timing.parameters, 1234);
  EXPECT_DOUBLE_EQ(timing.step_ms, 56.5);
  EXPECT_DOUBLE_EQ(timing.tokens_per_s, 7890);
  std::ifstream args(dir + "/args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, "3 3 8 128 16 512 450 9 9 10 2 cpu fp32");
}

TEST(ReferenceStep, AFailingReferenceIsReportedWithItsOutput) {
  const auto dir = testing::fresh_dir("hc_reference", "fails");
  const auto script = write_script(dir, "echo \"ModuleNotFoundError: No module named 'torch'\"\nexit 1\n");
  try {
    run_reference_step(hand_shape(), 1, Runtime{}, "sh", script);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("No module named 'torch'"), std::string::npos) << message;
    EXPECT_NE(message.find("exit status 1"), std::string::npos) << message;
    EXPECT_NE(message.find("--python"), std::string::npos) << message;
  }
}

// The tests run on the allocator the build linked into them (runtime/allocator.h).
TEST(MemoryAllocator, IsTheOneTheBuildLinked) { EXPECT_EQ(memory_allocator_name(), HEADCOUNT_EXPECTED_ALLOCATOR); }

// The last line of a command's log: anything LibTorch printed to stderr comes first.
std::string last_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);  // npos + 1 is 0: a single line
}

// The command itself: --no-peak leaves the peak probe out (under callgrind its products
// would take many minutes) and says so, in the JSON object and in the sentence; the JSON
// names the allocator the program runs on.
TEST(BenchCommand, NoPeakLeavesTheProbeOutAndSaysSoAndNamesTheAllocator) {
  const auto dir = testing::fresh_dir("hc_bench", "no_peak");
  const std::vector<std::string> tiny{HEADCOUNT_BINARY, "--threads", "1", "bench", "decode", "--encoder-layers", "1",
                                      "--decoder-layers", "1", "--heads", "2", "--head-dim", "4", "--d-model", "8",
                                      "--ffn", "16", "--batch", "1", "--source-length", "3", "--steps", "1", "--no-peak"};
  auto as_json = tiny;
  as_json.push_back("--json");
  ASSERT_EQ(wait_for_process(start_process(as_json, dir + "/json.log")), 0) << testing::read_text(dir + "/json.log");
  const auto result = nlohmann::json::parse(last_line(testing::read_text(dir + "/json.log")));
  EXPECT_EQ(result["peak_gflops"].get<double>(), 0);
  EXPECT_EQ(result["mfu"].get<double>(), 0);
  EXPECT_GT(result["step_ms"].get<double>(), 0);
  // The program runs on the allocator the build linked into it (runtime/allocator.h).
  EXPECT_EQ(result["allocator"].get<std::string>(), HEADCOUNT_EXPECTED_ALLOCATOR);
  ASSERT_EQ(wait_for_process(start_process(tiny, dir + "/line.log")), 0);
  EXPECT_NE(testing::read_text(dir + "/line.log").find("GFLOP/s (peak not measured);"), std::string::npos)
      << testing::read_text(dir + "/line.log");
}

// --against: the named twin is timed in the same rounds on the same batch numbers (its
// own model numbers kept), and the ratio is the median of the rounds' own ratios.
TEST(BenchCommand, AgainstTimesANamedShapeInTheSameRoundsOnTheSameBatches) {
  const auto dir = testing::fresh_dir("hc_bench", "against");
  const std::vector<std::string> command{
      HEADCOUNT_BINARY, "--threads", "1", "bench", "train", "--encoder-layers", "1", "--decoder-layers", "1",
      "--heads", "2", "--head-dim", "4", "--d-model", "8", "--ffn", "16", "--batch", "2", "--source-length", "3",
      "--target-length", "2", "--steps", "1", "--rounds", "3", "--no-peak", "--against", "demo-shallow"};
  auto as_json = command;
  as_json.push_back("--json");
  ASSERT_EQ(wait_for_process(start_process(as_json, dir + "/json.log")), 0) << testing::read_text(dir + "/json.log");
  const auto result = nlohmann::json::parse(last_line(testing::read_text(dir + "/json.log")));
  const auto& twin = result["against"];
  EXPECT_EQ(twin["shape"]["name"], "demo-shallow");
  EXPECT_EQ(twin["shape"]["batch"], 2);
  EXPECT_EQ(twin["shape"]["source_length"], 3);
  EXPECT_EQ(twin["shape"]["target_length"], 2);
  EXPECT_EQ(twin["shape"]["d_model"], 64);  // the model numbers stay the named shape's
  EXPECT_EQ(twin["shape"]["heads"], 4);
  const auto ours = result["step_ms_rounds"].get<std::vector<double>>();
  const auto theirs = twin["step_ms_rounds"].get<std::vector<double>>();
  const auto ratios = result["time_ratio_to_against_rounds"].get<std::vector<double>>();
  ASSERT_EQ(ours.size(), 3u);
  ASSERT_EQ(theirs.size(), 3u);
  ASSERT_EQ(ratios.size(), 3u);
  for (size_t round = 0; round < 3; ++round) EXPECT_DOUBLE_EQ(ratios[round], ours[round] / theirs[round]);
  auto sorted = ratios;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_DOUBLE_EQ(result["time_ratio_to_against"].get<double>(), sorted[1]);
  ASSERT_EQ(wait_for_process(start_process(command, dir + "/line.log")), 0);
  EXPECT_NE(testing::read_text(dir + "/line.log").find("against demo-shallow: "), std::string::npos)
      << testing::read_text(dir + "/line.log");
}

}  // namespace
}  // namespace headcount
