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

namespace {

// The hypotheses of a batch between beam-search steps: every sentence's `beam` live
// hypotheses in consecutive rows, and the finished ones set aside.
class Beams {
 public:
  Beams(int64_t batch, int64_t beam, double length_penalty)
      : batch_(batch), beam_(beam), length_penalty_(length_penalty), histories_(batch * beam),
        scores_(batch * beam, kNegativeInfinity), finished_(batch), done_(batch, false) {
    // Only the first beam of each sentence is alive at the start, so the first step picks
    // `beam` different tokens rather than one token `beam` times.
    for (int64_t b = 0; b < batch; ++b) scores_[b * beam] = 0.0;
  }

  // Every row's score plus the log-probability of every next token: [rows, vocabulary].
  torch::Tensor totals(const torch::Tensor& log_probabilities) const {
    return log_probabilities + torch::tensor(scores_, torch::kDouble).to(log_probabilities.device()).unsqueeze(1);
  }

  // Takes each sentence's 2 x beam best candidates (even if `beam` of them end, `beam` stay
  // alive); false once every sentence has `beam` finished hypotheses.
  bool advance(const torch::Tensor& totals, int64_t step) {
    const int64_t vocabulary = totals.size(1);
    auto [top_scores_on_device, top_indices_on_device] = totals.view({batch_, beam_ * vocabulary}).topk(2 * beam_, 1);
    const auto top_scores = top_scores_on_device.cpu(), top_indices = top_indices_on_device.cpu();
    origins_.assign(batch_ * beam_, 0);
    tokens_.assign(batch_ * beam_, kPaddingIndex);
    std::vector<double> next_scores(batch_ * beam_, kNegativeInfinity);
    for (int64_t b = 0; b < batch_; ++b)
      select(b, top_scores[b], top_indices[b], vocabulary, step, next_scores);
    if (std::all_of(done_.begin(), done_.end(), [](bool d) { return d; })) return false;
    std::vector<std::vector<int64_t>> next_histories(batch_ * beam_);
    for (int64_t row = 0; row < batch_ * beam_; ++row) {
      next_histories[row] = histories_[origins_[row]];
      if (std::isfinite(next_scores[row])) next_histories[row].push_back(tokens_[row]);
    }
    histories_ = std::move(next_histories);
    scores_ = std::move(next_scores);
    return true;
  }

  const std::vector<int64_t>& origins() const { return origins_; }  // the row each new row continues
  const std::vector<int64_t>& tokens() const { return tokens_; }    // the token each new row adds

  // Each sentence's best finished hypothesis by length-normalised score (empty if none).
  std::vector<std::vector<int64_t>> best() const {
    std::vector<std::vector<int64_t>> out(batch_);
    for (int64_t b = 0; b < batch_; ++b) {
      const auto& candidates = finished_[b];
      if (candidates.empty()) continue;
      out[b] = std::max_element(candidates.begin(), candidates.end(), [](const Finished& x, const Finished& y) {
                 return x.normalized < y.normalized;
               })->tokens;
    }
    return out;
  }

 private:
  static constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();
  struct Finished {
    double normalized;
    std::vector<int64_t> tokens;
  };

  // Sentence b: candidates that end go to its finished list, the best `beam` others live on.
  void select(int64_t b, const torch::Tensor& top_scores, const torch::Tensor& top_indices, int64_t vocabulary,
              int64_t step, std::vector<double>& next_scores) {
    auto top_score = top_scores.accessor<double, 1>();
    auto top_index = top_indices.accessor<int64_t, 1>();
    int64_t alive = 0;
    for (int64_t c = 0; c < 2 * beam_ && alive < beam_; ++c) {
      const double score = top_score[c];
      if (!std::isfinite(score)) break;
      const int64_t origin = b * beam_ + top_index[c] / vocabulary, token = top_index[c] % vocabulary;
      if (token == Vocabulary::kEnd) {
        if (!done_[b] && static_cast<int64_t>(finished_[b].size()) < beam_)
          finished_[b].push_back({score / std::pow(static_cast<double>(step + 1), length_penalty_), histories_[origin]});
        continue;
      }
      const int64_t row = b * beam_ + alive++;
      origins_[row] = origin;
      tokens_[row] = token;
      next_scores[row] = score;
    }
    for (int64_t row = b * beam_ + alive; row < (b + 1) * beam_; ++row) origins_[row] = b * beam_;
    if (static_cast<int64_t>(finished_[b].size()) >= beam_) done_[b] = true;
  }

  int64_t batch_, beam_;
  double length_penalty_;
  std::vector<std::vector<int64_t>> histories_;
  std::vector<double> scores_;
  std::vector<std::vector<Finished>> finished_;
  std::vector<bool> done_;
  std::vector<int64_t> origins_, tokens_;
};

}  // namespace

std::vector<std::vector<int64_t>> beam_search(Transformer& model, const torch::Tensor& source,
                                              const DecodeOptions& options) {
  const int64_t batch = source.size(0), beam = options.beam;
  const int64_t max_length = max_output_length(model, source, options);
  // Every sentence's beam occupies `beam` consecutive rows.
  auto expanded_source = source.repeat_interleave(beam, 0);
  auto memory = model->encoder ? model->encode(expanded_source) : torch::Tensor();
  auto state = model->start_decoding(memory, expanded_source);
  auto tokens = torch::full({batch * beam}, Vocabulary::kBegin, source.options());
  Beams beams(batch, beam, options.length_penalty);
  for (int64_t step = 0; step < max_length; ++step) {
    auto log_probabilities = torch::log_softmax(model->decode_step(tokens, state).to(torch::kDouble), -1);
    if (step == max_length - 1) {  // out of room: every hypothesis ends here
      auto forced = torch::full_like(log_probabilities, -std::numeric_limits<double>::infinity());
      forced.select(1, Vocabulary::kEnd).copy_(log_probabilities.select(1, Vocabulary::kEnd));
      log_probabilities = forced;
    }
    if (!beams.advance(beams.totals(log_probabilities), step)) break;
    state.reorder(torch::tensor(beams.origins(), torch::kLong).to(source.device()));
    tokens = torch::tensor(beams.tokens(), torch::kLong).to(source.device());
  }
  return beams.best();
}

std::vector<std::vector<int64_t>> decode(Transformer& model, const torch::Tensor& source, const DecodeOptions& options) {
  // Inference mode, not only no-grad: tensors made here skip autograd's view and version
  // bookkeeping, which at batch 1 is a large share of each operator's cost.
  c10::InferenceMode inference;
  const bool was_training = model->is_training();
  model->eval();
  auto out = options.beam <= 1 ? greedy_decode(model, source, options) : beam_search(model, source, options);
  model->train(was_training);
  return out;
}

}  // namespace headcount
