#include "study/inference_speed.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "data/vocabulary.h"
#include "model/checkpoint.h"
#include "run/run_folder.h"
#include "runtime/autocast.h"

namespace headcount {
namespace {

// A batch of random source tokens from the model's vocabulary (the same for every model
// with the same vocabulary).
torch::Tensor random_source(const Transformer& model, int64_t batch, int64_t length) {
  const auto& config = model->config();
  const int64_t vocabulary = config.has_encoder() ? config.source_vocab_size : config.target_vocab_size;
  torch::manual_seed(0);
  return torch::randint(Vocabulary::kUnknown + 1, std::max<int64_t>(vocabulary, Vocabulary::kUnknown + 2), {batch, length},
                        torch::kLong)
      .to(model->parameters().front().device());
}

void encode_and_decode(Transformer& model, const torch::Tensor& source, int64_t steps) {
  auto memory = model->encoder ? model->encode(source) : torch::Tensor();
  if (!model->decoder) return;
  auto state = model->start_decoding(memory, source);
  auto tokens = torch::full({source.size(0)}, Vocabulary::kBegin, source.options());
  for (int64_t step = 0; step < steps; ++step) tokens = model->decode_step(tokens, state).argmax(-1);
  if (tokens.is_cuda()) torch::cuda::synchronize(tokens.device().index());  // the timing ends when the GPU does
}

}  // namespace

int64_t decode_steps(const Transformer& model, int64_t length) {
  return std::min(length, model->config().max_positions - 1);
}

std::vector<InferenceTiming> measure_inference(std::vector<Transformer>& models, int64_t batch, int64_t length,
                                               int64_t rounds) {
  c10::InferenceMode inference;  // as eval/decode.cpp decodes
  std::vector<torch::Tensor> sources;
  for (auto& model : models) {
    model->eval();
    sources.push_back(random_source(model, batch, length));
    encode_and_decode(model, sources.back(), decode_steps(model, length));  // warm-up: first-touch allocations
  }
  const size_t n = models.size();
  std::vector<std::vector<double>> milliseconds(n);
  for (int64_t round = 0; round < rounds; ++round)
    for (size_t k = 0; k < n; ++k) {
      const size_t m = (k + static_cast<size_t>(round)) % n;  // rotate, so no model always goes first
      const auto start = std::chrono::steady_clock::now();
      encode_and_decode(models[m], sources[m], decode_steps(models[m], length));
      milliseconds[m].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
  std::vector<InferenceTiming> timings;
  for (size_t m = 0; m < n; ++m) {
    auto& times = milliseconds[m];
    std::sort(times.begin(), times.end());
    InferenceTiming timing;
    timing.batch = batch;
    timing.length = length;
    timing.median_ms = times.empty() ? 0 : times[times.size() / 2];
    timing.sentences_per_s = timing.median_ms > 0 ? 1000.0 * batch / timing.median_ms : 0;
    timing.tokens_per_s = timing.sentences_per_s * (models[m]->decoder ? decode_steps(models[m], length) : length);
    timings.push_back(timing);
  }
  return timings;
}

std::vector<InferenceRow> measure_grid_inference(const std::vector<RunRow>& runs, const InferenceGrid& grid,
                                                 const Runtime& runtime) {
  std::map<int64_t, std::string> checkpoint_of_heads;
  for (const auto& row : runs)
    if (const auto path = RunFolder(row.run_dir).best_or_last_checkpoint(); !path.empty() && !checkpoint_of_heads.count(row.heads))
      checkpoint_of_heads[row.heads] = path;
  std::vector<int64_t> heads;
  std::vector<std::string> architectures;
  std::vector<Transformer> models;
  for (auto it = checkpoint_of_heads.rbegin(); it != checkpoint_of_heads.rend(); ++it) {
    models.push_back(load_checkpoint(it->second, runtime.device).model);
    const auto& c = models.back()->config();
    heads.push_back(it->first);
    architectures.push_back(fmt::format("{}L-{}H", c.has_encoder() ? c.encoder.layers : c.decoder.layers, it->first));
  }
  std::vector<std::vector<InferenceRow>> by_model(models.size());
  const AutocastScope mixed_precision(runtime);
  for (int64_t batch : grid.batch_sizes)
    for (int64_t length : grid.lengths) {
      const auto timings = measure_inference(models, batch, length, grid.repeats);
      for (size_t m = 0; m < models.size(); ++m) {
        const auto& t = timings[m];
        by_model[m].push_back({architectures[m], heads[m], batch, length, t.median_ms, t.sentences_per_s, t.tokens_per_s});
      }
    }
  std::vector<InferenceRow> rows;
  for (const auto& model_rows : by_model) rows.insert(rows.end(), model_rows.begin(), model_rows.end());
  return rows;
}

}  // namespace headcount
