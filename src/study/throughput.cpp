#include "study/throughput.h"

#include <torch/torch.h>

#include <chrono>

#include "model/transformer.h"
#include "task/seq2seq_task.h"
#include "train/optimizer.h"

namespace headcount {

StepTiming measure_training_step(const StepShape& s) {
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
  model->train();
  auto optimizer = make_optimizer({OptimizerKind::Adam, 0.9, 0.98, 1e-8, 0.0}, model->parameters());
  // Token 0 is padding; the reference draws from the whole vocabulary, so draw from 1..99.
  Batch batch;
  batch.source = torch::randint(1, 100, {s.batch, s.source_length}, torch::kLong);
  batch.target_input = batch.target_output = torch::randint(1, 100, {s.batch, s.target_length}, torch::kLong);
  auto step = [&] {
    auto sums = sequence_to_sequence_loss(model, batch, 0.1);
    optimizer->zero_grad();
    (sums.loss / static_cast<double>(sums.tokens)).backward();
    optimizer->step(1e-4);
  };
  step(), step();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < s.steps; ++i) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  StepTiming timing;
  timing.parameters = parameter_count(*model);
  timing.step_ms = 1000.0 * seconds / s.steps;
  timing.tokens_per_s = static_cast<double>(s.batch * s.target_length * s.steps) / seconds;
  return timing;
}

}  // namespace headcount
