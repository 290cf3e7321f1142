#include "study/throughput.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>

#include "model/transformer.h"
#include "runtime/autocast.h"
#include "task/seq2seq_task.h"
#include "train/loss_scaler.h"
#include "train/optimizer.h"

namespace headcount {

namespace {
void wait_for_device(const Runtime& runtime) {
  if (runtime.device.is_cuda()) torch::cuda::synchronize(runtime.device.index());
}
}  // namespace

StepTiming measure_training_step(const StepShape& s, const Runtime& runtime) {
  torch::manual_seed(0);
  ModelConfig config;
  config.d_model = s.d_model;
  config.encoder = {s.encoder_layers, s.heads, s.head_dim, s.ffn_dim};
  config.decoder = {s.decoder_layers, s.heads, s.head_dim, s.ffn_dim};
  config.dropout = 0.1;
  config.residual = s.residual;
  config.source_vocab_size = config.target_vocab_size = 100;
  config.share_all_embeddings = true;
  config.max_positions = std::max(s.source_length, s.target_length) + 1;
  Transformer model(config);
  model->to(runtime.device);
  model->train();
  const auto parameters = model->parameters();
  auto optimizer = make_optimizer({OptimizerKind::Adam, 0.9, 0.98, 1e-8, 0.0}, parameters);
  std::unique_ptr<LossScaler> scaler;
  if (runtime.precision == Precision::Fp16) scaler = std::make_unique<LossScaler>(runtime.device);
  // Token 0 is padding; the reference draws from the whole vocabulary, so draw from 1..99.
  Batch batch;
  batch.source = torch::randint(1, 100, {s.batch, s.source_length}, torch::kLong);
  batch.target_input = batch.target_output = torch::randint(1, 100, {s.batch, s.target_length}, torch::kLong);
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
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < s.steps; ++i) step();
  wait_for_device(runtime);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  StepTiming timing;
  timing.parameters = parameter_count(*model);
  timing.step_ms = 1000.0 * seconds / s.steps;
  timing.tokens_per_s = static_cast<double>(s.batch * s.target_length * s.steps) / seconds;
  return timing;
}

}  // namespace headcount
