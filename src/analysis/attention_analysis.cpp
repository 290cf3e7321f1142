#include "analysis/attention_analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace headcount {

torch::Tensor row_entropy(const torch::Tensor& probabilities) {
  return -(probabilities * probabilities.clamp_min(1e-30).log()).sum(-1);
}

int64_t positions_for_mass(const torch::Tensor& row, double mass) {
  const auto sorted = std::get<0>(row.to(torch::kDouble).sort(-1, /*descending=*/true));
  const double total = sorted.sum().item<double>();
  if (total <= 0) return 0;
  const auto cumulative = sorted.cumsum(0) / total;
  // The first index where the running share reaches mass (a little slack for rounding).
  return (cumulative < mass - 1e-12).sum().item<int64_t>() + 1;
}

std::vector<torch::Tensor> attention_rollout(const std::vector<torch::Tensor>& layers) {
  std::vector<torch::Tensor> out;
  if (layers.empty()) return out;
  const int64_t n = layers.front().size(0);
  auto rolled = torch::eye(n, layers.front().options());
  for (const auto& attention : layers) {
    auto mixed = 0.5 * attention + 0.5 * torch::eye(n, attention.options());
    mixed = mixed / mixed.sum(-1, true);
    rolled = torch::matmul(mixed, rolled);
    out.push_back(rolled);
  }
  return out;
}

torch::Tensor gradient_influence(const std::function<torch::Tensor(const torch::Tensor&)>& encode,
                                 const torch::Tensor& embedded, int64_t probes, uint64_t seed) {
  torch::AutoGradMode enabled(true);
  auto input = embedded.detach().requires_grad_(true);
  const auto output = encode(input);  // [1, n, d]
  const int64_t n = output.size(1), d = output.size(2);
  auto generator = at::detail::createCPUGenerator(seed);
  auto influence = torch::zeros({n, n}, torch::TensorOptions().dtype(torch::kDouble));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < probes; ++k) {
      // A random +-1 probe: E[(J^T v)^2] summed over the input's entries is ||J||_F^2.
      const auto v = (torch::randint(0, 2, {d}, generator, torch::kLong) * 2 - 1).to(output.options());
      const auto gradient = torch::autograd::grad({(output[0][i] * v).sum()}, {input}, {}, /*retain_graph=*/true)[0];
      influence[i] += gradient[0].pow(2).sum(-1).to(torch::kDouble).cpu() / static_cast<double>(probes);
    }
  return influence;
}

namespace {

// Attaches a recorder to a model's stacks for one forward pass.
class RecorderAttachment {
 public:
  RecorderAttachment(Transformer& model, AttentionRecorder* recorder) : model_(model) { attach(recorder); }
  ~RecorderAttachment() { attach(nullptr); }
  RecorderAttachment(const RecorderAttachment&) = delete;
  RecorderAttachment& operator=(const RecorderAttachment&) = delete;

 private:
  void attach(AttentionRecorder* recorder) {
    if (model_->encoder) model_->encoder->attach_recorder(recorder, "encoder");
    if (model_->decoder) model_->decoder->attach_recorder(recorder, "decoder");
  }
  Transformer& model_;
};

struct LayerSums {
  std::vector<double> entropy, effective;
  double covered = 0, keys = 0, queries = 0;
};

struct RolloutSums {
  double effective = 0, positions = 0, rows = 0;
};

using LayerKey = std::tuple<std::string, int64_t, std::string>;  // stack, layer, kind

class Accumulator {
 public:
  explicit Accumulator(const AnalysisOptions& options) : options_(options) {}

  // One recorded attention: queries and keys restricted to real positions.
  void add_layer(const AttentionRecorder::Entry& e, const torch::Tensor& query_real, const torch::Tensor& key_real) {
    auto& sums = layers_[{e.stack, e.layer, e.kind}];
    const auto p = e.probabilities.to(torch::kDouble);  // [B, H, T, S]
    const int64_t heads = p.size(1);
    if (sums.entropy.empty()) sums.entropy.assign(heads, 0.0), sums.effective.assign(heads, 0.0);
    const auto queries = query_real.to(torch::kDouble);  // [B, T]
    const auto entropy = row_entropy(p);                  // [B, H, T]
    for (int64_t h = 0; h < heads; ++h) {
      sums.entropy[h] += (entropy.select(1, h) * queries).sum().item<double>();
      sums.effective[h] += (entropy.select(1, h).exp() * queries).sum().item<double>();
    }
    const auto covered = (std::get<0>(p.max(1)) >= options_.threshold).logical_and(key_real.unsqueeze(1)).sum(-1);
    sums.covered += (covered.to(torch::kDouble) * queries).sum().item<double>();
    sums.keys += (key_real.sum(-1, true).to(torch::kDouble) * queries).sum().item<double>();
    sums.queries += queries.sum().item<double>();
  }

  // The rollout of one stack's self-attention, sentence by sentence.
  void add_rollout(const std::string& stack, const std::vector<torch::Tensor>& self_attention, const torch::Tensor& real) {
    if (self_attention.empty()) return;
    const auto lengths = real.sum(-1);
    for (int64_t b = 0; b < real.size(0); ++b) {
      const int64_t n = lengths[b].item<int64_t>();
      if (n == 0) continue;
      std::vector<torch::Tensor> layers;
      for (const auto& p : self_attention) layers.push_back(p[b].mean(0).narrow(0, 0, n).narrow(1, 0, n).to(torch::kDouble));
      const auto rolled = attention_rollout(layers);
      for (size_t l = 0; l < rolled.size(); ++l) {
        auto& sums = rollout_[{stack, static_cast<int64_t>(l)}];
        sums.effective += row_entropy(rolled[l]).exp().sum().item<double>();
        for (int64_t i = 0; i < n; ++i) sums.positions += static_cast<double>(positions_for_mass(rolled[l][i], options_.mass));
        sums.rows += static_cast<double>(n);
      }
    }
  }

  void add_gradient(const torch::Tensor& influence) {
    const int64_t n = influence.size(0);
    const auto shares = influence / influence.sum(-1, true).clamp_min(1e-300);
    gradient_.effective_positions += row_entropy(shares).exp().sum().item<double>();
    for (int64_t i = 0; i < n; ++i) gradient_.positions_for_mass += static_cast<double>(positions_for_mass(influence[i], options_.mass));
    gradient_.real_positions += static_cast<double>(n) * n;
    gradient_rows_ += static_cast<double>(n);
    ++gradient_.sentences;
  }

  void finish(AttentionAnalysis& out) const {
    for (const auto& [key, sums] : layers_) {
      LayerStatistics s{std::get<0>(key), std::get<2>(key), std::get<1>(key), {}, 0, 0, 0};
      const double q = std::max(sums.queries, 1.0);
      for (size_t h = 0; h < sums.entropy.size(); ++h) {
        s.heads.push_back({sums.entropy[h] / q, sums.effective[h] / q});
        s.effective_positions += sums.effective[h] / q / static_cast<double>(sums.entropy.size());
      }
      s.covered_positions = sums.covered / q;
      s.real_keys = sums.keys / q;
      out.layers.push_back(std::move(s));
    }
    // Encoder before decoder; within a stack, by layer; self before cross.
    std::stable_sort(out.layers.begin(), out.layers.end(), [](const LayerStatistics& a, const LayerStatistics& b) {
      return std::make_tuple(a.stack != "encoder", a.layer, a.kind != "self") <
             std::make_tuple(b.stack != "encoder", b.layer, b.kind != "self");
    });
    for (const auto& [key, sums] : rollout_)
      out.rollout.push_back({key.first, key.second, sums.effective / std::max(sums.rows, 1.0),
                             sums.positions / std::max(sums.rows, 1.0)});
    std::stable_sort(out.rollout.begin(), out.rollout.end(), [](const RolloutStatistics& a, const RolloutStatistics& b) {
      return std::make_tuple(a.stack != "encoder", a.layer) < std::make_tuple(b.stack != "encoder", b.layer);
    });
    out.gradient = gradient_;
    if (gradient_rows_ > 0) {
      out.gradient.effective_positions /= gradient_rows_;
      out.gradient.positions_for_mass /= gradient_rows_;
      out.gradient.real_positions /= gradient_rows_;
    }
  }

 private:
  const AnalysisOptions& options_;
  std::map<LayerKey, LayerSums> layers_;
  std::map<std::pair<std::string, int64_t>, RolloutSums> rollout_;
  GradientStatistics gradient_;
  double gradient_rows_ = 0;
};

// The recorded self-attentions of one stack, in layer order.
std::vector<torch::Tensor> self_attention_of(const AttentionRecorder& recorder, const std::string& stack) {
  std::vector<torch::Tensor> out;
  for (const auto& e : recorder.entries)
    if (e.stack == stack && e.kind == "self") out.push_back(e.probabilities);
  return out;
}

}  // namespace

AttentionAnalysis analyze_attention(Transformer& model, const std::vector<Batch>& batches, const AnalysisOptions& options) {
  const bool was_training = model->is_training();
  model->eval();
  AttentionAnalysis out;
  out.options = options;
  Accumulator sums(options);
  // The gradient measure's sentences spread evenly over all (the batches run short to long).
  int64_t total = 0, seen = 0, gradient_sentences = 0;
  for (const auto& batch : batches) total += batch.source.defined() ? batch.source.size(0) : 0;
  const int64_t stride = std::max<int64_t>(1, total / std::max<int64_t>(1, options.gradient_limit));
  for (const auto& batch : batches) {
    AttentionRecorder recorder;
    {
      torch::NoGradGuard no_grad;
      RecorderAttachment attached(model, &recorder);
      torch::Tensor memory;
      if (model->encoder) memory = model->encode(batch.source);
      if (model->decoder && batch.target_input.defined()) model->decode(batch.target_input, memory, batch.source);
    }
    const auto source_real = batch.source.defined() ? batch.source.ne(kPaddingIndex).cpu() : torch::Tensor();
    const auto target_real = batch.target_input.defined() ? batch.target_input.ne(kPaddingIndex).cpu() : torch::Tensor();
    for (const auto& e : recorder.entries) {
      const bool encoder = e.stack == "encoder" && model->encoder;
      const auto& queries = encoder ? source_real : target_real;
      const auto& keys = encoder || e.kind == "cross" ? source_real : target_real;
      sums.add_layer(e, queries, keys);
    }
    if (model->encoder) sums.add_rollout("encoder", self_attention_of(recorder, "encoder"), source_real);
    if (model->decoder && target_real.defined()) sums.add_rollout("decoder", self_attention_of(recorder, "decoder"), target_real);
    out.examples += batch.source.size(0);
    for (int64_t b = 0; model->encoder && b < batch.source.size(0); ++b) {
      if (seen++ % stride != 0 || gradient_sentences >= options.gradient_limit) continue;
      const int64_t n = source_real[b].sum().item<int64_t>();
      const auto sentence = batch.source[b].narrow(0, 0, n).unsqueeze(0);
      auto encode = [&](const torch::Tensor& embedded) { return model->encode_embedded(embedded, sentence); };
      torch::Tensor embedded;
      {
        torch::NoGradGuard no_grad;
        embedded = model->embed_source(sentence);
      }
      sums.add_gradient(gradient_influence(encode, embedded, options.probes, options.seed + gradient_sentences));
      ++gradient_sentences;
    }
  }
  sums.finish(out);
  model->train(was_training);
  return out;
}

const RolloutStatistics* AttentionAnalysis::top_rollout(const std::string& stack) const {
  const RolloutStatistics* top = nullptr;
  for (const auto& r : rollout)
    if (r.stack == stack && (!top || r.layer > top->layer)) top = &r;
  return top;
}

nlohmann::json AttentionAnalysis::to_json() const {
  nlohmann::json layer_rows = nlohmann::json::array(), rollout_rows = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json heads_json = nlohmann::json::array();
    for (const auto& h : l.heads) heads_json.push_back({{"entropy", h.entropy}, {"effective_positions", h.effective_positions}});
    layer_rows.push_back({{"stack", l.stack}, {"layer", l.layer}, {"kind", l.kind}, {"heads", heads_json},
                          {"effective_positions", l.effective_positions}, {"covered_positions", l.covered_positions},
                          {"real_keys", l.real_keys}});
  }
  for (const auto& r : rollout)
    rollout_rows.push_back({{"stack", r.stack}, {"layer", r.layer}, {"effective_positions", r.effective_positions},
                            {"positions_for_mass", r.positions_for_mass}});
  return {{"examples", examples},
          {"threshold", options.threshold},
          {"mass", options.mass},
          {"layers", layer_rows},
          {"rollout", rollout_rows},
          {"gradient",
           {{"sentences", gradient.sentences},
            {"probes", options.probes},
            {"effective_positions", gradient.effective_positions},
            {"positions_for_mass", gradient.positions_for_mass},
            {"real_positions", gradient.real_positions}}}};
}

AttentionAnalysis AttentionAnalysis::from_json(const nlohmann::json& j) {
  AttentionAnalysis a;
  a.examples = j.at("examples");
  a.options.threshold = j.at("threshold");
  a.options.mass = j.at("mass");
  for (const auto& l : j.at("layers")) {
    LayerStatistics s{l.at("stack"), l.at("kind"), l.at("layer"), {}, l.at("effective_positions"),
                      l.at("covered_positions"), l.at("real_keys")};
    for (const auto& h : l.at("heads")) s.heads.push_back({h.at("entropy"), h.at("effective_positions")});
    a.layers.push_back(std::move(s));
  }
  for (const auto& r : j.at("rollout"))
    a.rollout.push_back({r.at("stack"), r.at("layer"), r.at("effective_positions"), r.at("positions_for_mass")});
  const auto& g = j.at("gradient");
  a.options.probes = g.at("probes");
  a.gradient = {g.at("sentences"), g.at("effective_positions"), g.at("positions_for_mass"), g.at("real_positions")};
  return a;
}

}  // namespace headcount
