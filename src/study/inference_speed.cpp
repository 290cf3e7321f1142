#include "study/inference_speed.h"

#include <algorithm>
#include <chrono>

#include "data/vocabulary.h"

namespace headcount {
namespace {

// A batch of random source tokens from the model's vocabulary (the same for every model
// with the same vocabulary).
torch::Tensor random_source(const Transformer& model, int64_t batch, int64_t length) {
  const auto& config = model->config();
  const int64_t vocabulary = config.has_encoder() ? config.source_vocab_size : config.target_vocab_size;
  torch::manual_seed(0);
  return torch::randint(Vocabulary::kUnknown + 1, std::max<int64_t>(vocabulary, Vocabulary::kUnknown + 2), {batch, length},
                        torch::kLong);
}

int64_t decode_steps(const Transformer& model, int64_t length) {
  return std::min(length, model->config().max_positions - 1);
}

void encode_and_decode(Transformer& model, const torch::Tensor& source, int64_t steps) {
  auto memory = model->encoder ? model->encode(source) : torch::Tensor();
  if (!model->decoder) return;
  auto state = model->start_decoding(memory, source);
  auto tokens = torch::full({source.size(0)}, Vocabulary::kBegin, torch::kLong);
  for (int64_t step = 0; step < steps; ++step) tokens = model->decode_step(tokens, state).argmax(-1);
}

}  // namespace

std::vector<InferenceTiming> measure_inference(std::vector<Transformer>& models, int64_t batch, int64_t length,
                                               int64_t rounds) {
  torch::NoGradGuard no_grad;
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

}  // namespace headcount
