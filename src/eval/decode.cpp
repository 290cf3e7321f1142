#include "eval/decode.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/vocabulary.h"

namespace headcount {

static int64_t max_output_length(const Transformer& model, const torch::Tensor& source, const DecodeOptions& o) {
  const int64_t by_rule = static_cast<int64_t>(o.max_length_a * source.size(1)) + o.max_length_b;
  return std::max<int64_t>(1, std::min(by_rule, model->config().max_positions - 1));
}

std::vector<std::vector<int64_t>> greedy_decode(Transformer& model, const torch::Tensor& source,
                                                const DecodeOptions& options) {
  const int64_t batch = source.size(0), max_length = max_output_length(model, source, options);
  auto memory = model->encoder ? model->encode(source) : torch::Tensor();
  auto state = model->start_decoding(memory, source);
  auto tokens = torch::full({batch}, Vocabulary::kBegin, source.options());
  std::vector<std::vector<int64_t>> out(batch);
  std::vector<bool> finished(batch, false);
  int64_t remaining = batch;
  for (int64_t step = 0; step < max_length && remaining > 0; ++step) {
    tokens = model->decode_step(tokens, state).argmax(-1);
    const auto chosen_tokens = tokens.cpu();
    auto chosen = chosen_tokens.accessor<int64_t, 1>();
    for (int64_t row = 0; row < batch; ++row) {
      if (finished[row]) continue;
      if (chosen[row] == Vocabulary::kEnd) {
        finished[row] = true;
        --remaining;
      } else {
        out[row].push_back(chosen[row]);
      }
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> beam_search(Transformer& model, const torch::Tensor& source,
                                              const DecodeOptions& options) {
  const int64_t batch = source.size(0), beam = options.beam;
  const int64_t max_length = max_output_length(model, source, options);
  const double negative_infinity = -std::numeric_limits<double>::infinity();

  // Every sentence's beam occupies `beam` consecutive rows.
  auto expanded_source = source.repeat_interleave(beam, 0);
  auto memory = model->encoder ? model->encode(expanded_source) : torch::Tensor();
  auto state = model->start_decoding(memory, expanded_source);
  const auto device = source.device();
  auto tokens = torch::full({batch * beam}, Vocabulary::kBegin, source.options());
  std::vector<std::vector<int64_t>> histories(batch * beam);
  // Only the first beam of each sentence is alive at the start, so the first step picks
  // `beam` different tokens rather than one token `beam` times.
  std::vector<double> scores(batch * beam, negative_infinity);
  for (int64_t b = 0; b < batch; ++b) scores[b * beam] = 0.0;

  struct Finished {
    double normalized;
    std::vector<int64_t> tokens;
  };
  std::vector<std::vector<Finished>> finished(batch);
  std::vector<bool> done(batch, false);

  for (int64_t step = 0; step < max_length; ++step) {
    auto log_probabilities = torch::log_softmax(model->decode_step(tokens, state).to(torch::kDouble), -1);
    const int64_t vocabulary = log_probabilities.size(1);
    if (step == max_length - 1) {  // out of room: every hypothesis ends here
      auto forced = torch::full_like(log_probabilities, negative_infinity);
      forced.select(1, Vocabulary::kEnd).copy_(log_probabilities.select(1, Vocabulary::kEnd));
      log_probabilities = forced;
    }
    auto totals = log_probabilities + torch::tensor(scores, torch::kDouble).to(device).unsqueeze(1);
    // 2 x beam candidates per sentence: even if `beam` of them end, `beam` stay alive.
    auto [top_scores_on_device, top_indices_on_device] = totals.view({batch, beam * vocabulary}).topk(2 * beam, 1);
    const auto top_scores = top_scores_on_device.cpu(), top_indices = top_indices_on_device.cpu();
    auto top_score = top_scores.accessor<double, 2>();
    auto top_index = top_indices.accessor<int64_t, 2>();

    std::vector<int64_t> origins(batch * beam), next_tokens(batch * beam, kPaddingIndex);
    std::vector<double> next_scores(batch * beam, negative_infinity);
    for (int64_t b = 0; b < batch; ++b) {
      int64_t alive = 0;
      for (int64_t c = 0; c < 2 * beam && alive < beam; ++c) {
        const double score = top_score[b][c];
        if (!std::isfinite(score)) break;
        const int64_t origin = b * beam + top_index[b][c] / vocabulary, token = top_index[b][c] % vocabulary;
        if (token == Vocabulary::kEnd) {
          if (!done[b] && static_cast<int64_t>(finished[b].size()) < beam)
            finished[b].push_back({score / std::pow(static_cast<double>(step + 1), options.length_penalty),
                                   histories[origin]});
          continue;
        }
        const int64_t row = b * beam + alive++;
        origins[row] = origin;
        next_tokens[row] = token;
        next_scores[row] = score;
      }
      for (int64_t row = b * beam + alive; row < (b + 1) * beam; ++row) origins[row] = b * beam;
      if (static_cast<int64_t>(finished[b].size()) >= beam) done[b] = true;
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;

    std::vector<std::vector<int64_t>> next_histories(batch * beam);
    for (int64_t row = 0; row < batch * beam; ++row) {
      next_histories[row] = histories[origins[row]];
      if (std::isfinite(next_scores[row])) next_histories[row].push_back(next_tokens[row]);
    }
    histories = std::move(next_histories);
    scores = std::move(next_scores);
    state.reorder(torch::tensor(origins, torch::kLong).to(device));
    tokens = torch::tensor(next_tokens, torch::kLong).to(device);
  }

  std::vector<std::vector<int64_t>> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& candidates = finished[b];
    if (candidates.empty()) continue;
    auto best = std::max_element(candidates.begin(), candidates.end(),
                                 [](const Finished& x, const Finished& y) { return x.normalized < y.normalized; });
    out[b] = best->tokens;
  }
  return out;
}

std::vector<std::vector<int64_t>> decode(Transformer& model, const torch::Tensor& source, const DecodeOptions& options) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  auto out = options.beam <= 1 ? greedy_decode(model, source, options) : beam_search(model, source, options);
  model->train(was_training);
  return out;
}

}  // namespace headcount
