#include "study/throughput.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "model/linear.h"
#include "model/transformer.h"
#include "runtime/autocast.h"
#include "study/inference_speed.h"
#include "task/seq2seq_task.h"
#include "train/loss_scaler.h"
#include "train/optimizer.h"
#include "util/resident_memory.h"

namespace headcount {

namespace {
void wait_for_device(const Runtime& runtime) {
  if (runtime.device.is_cuda()) torch::cuda::synchronize(runtime.device.index());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Memory figures read right after the timed calls, before anything else allocates.
void record_memory_after_timed_calls(StepTiming& timing, const Runtime& runtime) {
  timing.resident_at_end_mib = resident_mib();
  // Never below a figure seen earlier: the kernel updates its high-water mark lazily.
  timing.peak_resident_mib = std::max(peak_resident_mib(), timing.resident_at_end_mib);
  timing.peak_device_memory_mib = peak_device_memory_mib(runtime);
}

Transformer make_model(const StepShape& s, const Runtime& runtime) {
  torch::manual_seed(0);
  ModelConfig config;
  config.d_model = s.d_model;
  config.encoder = {s.encoder_layers, s.heads, s.head_dim, s.ffn_dim};
  config.decoder = {s.decoder_layers, s.heads, s.head_dim, s.ffn_dim};
  config.dropout = 0.1;
  config.residual = s.residual;
  config.source_vocab_size = config.target_vocab_size = s.vocabulary;
  config.share_all_embeddings = true;
  config.max_positions = std::max(s.source_length, s.target_length) + 1;
  Transformer model(config);
  model->to(runtime.device);
  return model;
}
}  // namespace

StepTiming measure_training_step(const StepShape& s, const Runtime& runtime) {
  auto model = make_model(s, runtime);
  model->train();
  const auto parameters = model->parameters();
  auto optimizer = make_optimizer({OptimizerKind::Adam, 0.9, 0.98, 1e-8, 0.0}, parameters);
  std::unique_ptr<LossScaler> scaler;
  if (runtime.precision == Precision::Fp16) scaler = std::make_unique<LossScaler>(runtime.device);
  // Token 0 is padding; the reference draws from the whole vocabulary, so draw from 1..V-1.
  Batch batch;
  batch.source = torch::randint(1, s.vocabulary, {s.batch, s.source_length}, torch::kLong);
  batch.target_input = batch.target_output = torch::randint(1, s.vocabulary, {s.batch, s.target_length}, torch::kLong);
  batch = batch.to(runtime.device);
  auto step = [&] {
    LossSums sums;
    {
      const AutocastScope mixed_precision(runtime);
      sums = sequence_to_sequence_loss(model, batch, 0.1);
    }
    optimizer->zero_grad();
    if (scaler) {
      scaler->scale(sums.loss).backward();
      if (scaler->unscale(parameters, static_cast<double>(sums.tokens))) optimizer->step(1e-4);
      scaler->update();
    } else {
      (sums.loss / static_cast<double>(sums.tokens)).backward();
      optimizer->step(1e-4);
    }
  };
  step(), step();
  wait_for_device(runtime);
  StepTiming timing;
  timing.resident_after_warmup_mib = resident_mib();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < s.steps; ++i) step();
  wait_for_device(runtime);
  const double seconds = seconds_since(start);
  record_memory_after_timed_calls(timing, runtime);
  timing.parameters = parameter_count(*model);
  timing.step_ms = 1000.0 * seconds / s.steps;
  timing.tokens_per_s = static_cast<double>(s.batch * s.target_length * s.steps) / seconds;
  timing.gflops = training_flops(s) * s.steps / seconds / 1e9;
  return timing;
}

StepTiming measure_decoding(const StepShape& s, const Runtime& runtime) {
  std::vector<Transformer> models{make_model(s, runtime)};
  const AutocastScope mixed_precision(runtime);
  measure_inference(models, s.batch, s.source_length, 1);  // warm-up: first-touch allocations
  StepTiming timing;
  timing.resident_after_warmup_mib = resident_mib();
  const auto decoding = measure_inference(models, s.batch, s.source_length, s.steps).front();
  record_memory_after_timed_calls(timing, runtime);
  const int64_t decoded = decode_steps(models.front(), s.source_length);
  timing.parameters = parameter_count(*models.front());
  timing.step_ms = decoding.median_ms;
  timing.tokens_per_s = decoding.tokens_per_s;
  timing.gflops = decoding_flops(s, decoded) / (decoding.median_ms / 1000.0) / 1e9;
  return timing;
}

double measure_matmul_peak_gflops(const Runtime& runtime) {
  torch::NoGradGuard no_grad;
  const int64_t n = runtime.device.is_cuda() ? 8192 : 1024;
  auto dtype = torch::kFloat;
  if (runtime.precision == Precision::Bf16) dtype = torch::kBFloat16;
  if (runtime.precision == Precision::Fp16) dtype = torch::kHalf;
  const auto options = torch::TensorOptions(runtime.device).dtype(dtype);
  const auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto c = torch::empty({n, n}, options);  // mm_out's result; each product warms up below
  const double flops = 2.0 * static_cast<double>(n) * n * n;
  // Both the library's matrix product and the one the linear layers call (model/linear.h:
  // oneDNN for fp32 on a CPU, where LibTorch's mm is the BLAS's): the peak is the faster.
  const std::function<void()> products[] = {[&] { torch::mm_out(c, a, b); },
                                            [&] { c = linear_product(a, b, torch::Tensor()); }};
  double best = 0;
  for (const auto& product : products) {
    product();  // warm-up: threads started, packing buffers allocated
    wait_for_device(runtime);
    for (int trial = 0; trial < 3; ++trial) {
      // Enough products for a tenth of a second, so the clock's resolution does not matter.
      int64_t count = 0;
      const auto start = std::chrono::steady_clock::now();
      double seconds = 0;
      do {
        product();
        ++count;
        wait_for_device(runtime);
        seconds = seconds_since(start);
      } while (seconds < 0.1);
      best = std::max(best, flops * static_cast<double>(count) / seconds / 1e9);
    }
  }
  return best;
}

}  // namespace headcount
