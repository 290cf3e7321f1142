#include "study/inference_speed.h"

#include <algorithm>
#include <chrono>

#include "data/vocabulary.h"

namespace headcount {

InferenceTiming measure_inference(Transformer& model, int64_t batch, int64_t length, int64_t repeats) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto& config = model->config();
  const int64_t vocabulary = config.has_encoder() ? config.source_vocab_size : config.target_vocab_size;
  torch::manual_seed(0);
  auto source = torch::randint(Vocabulary::kUnknown + 1, std::max<int64_t>(vocabulary, Vocabulary::kUnknown + 2),
                               {batch, length}, torch::kLong);
  const int64_t steps = std::min(length, config.max_positions - 1);
  auto once = [&] {
    auto memory = model->encoder ? model->encode(source) : torch::Tensor();
    if (!model->decoder) return;
    auto state = model->start_decoding(memory, source);
    auto tokens = torch::full({batch}, Vocabulary::kBegin, torch::kLong);
    for (int64_t step = 0; step < steps; ++step) tokens = model->decode_step(tokens, state).argmax(-1);
  };
  once();  // warm-up: first-touch allocations are not inference speed
  std::vector<double> milliseconds;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    once();
    milliseconds.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(milliseconds.begin(), milliseconds.end());
  InferenceTiming timing;
  timing.batch = batch;
  timing.length = length;
  timing.median_ms = milliseconds[milliseconds.size() / 2];
  timing.sentences_per_s = 1000.0 * batch / timing.median_ms;
  timing.tokens_per_s = timing.sentences_per_s * (model->decoder ? steps : length);
  return timing;
}

}  // namespace headcount
