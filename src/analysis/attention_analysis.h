// How many positions a model attends (the paper's RQ1), measured on real inputs with the
// padding left out of every count. Definitions (docs/analysis.md says the same):
//
//   entropy of a query's attention      H = -sum_j p_j ln p_j over the real keys j
//   effective positions                 exp(H): k for attention spread evenly over k keys,
//                                       1 for attention on one key; averaged over queries
//   covered positions (multi-head)      keys holding at least `threshold` (0.1) of some head's
//                                       attention: the union over the layer's heads
//   attention rollout (Abnar and Zuidema 2020)
//                                       A_l = (mean over heads of layer l's attention + I) / 2,
//                                       rows renormalised, R_l = A_l R_{l-1}, R_0 = I: how
//                                       much each input position reaches output i through
//                                       layers 1..l, the residual path included; per layer,
//                                       the effective positions of R_l's rows and the number
//                                       of input positions that carry `mass` (0.9) of a row
//   gradient influence (model-agnostic) g_ij = ||d h_i / d e_j||_F^2, h_i the encoder's
//                                       output at i, e_j the input embedding at j (tokens and
//                                       positions), estimated without bias from random +-1
//                                       probes v: E ||(d h_i / d e)^T v||^2 = ||d h_i / d e||_F^2;
//                                       per output i, the input positions carrying `mass` of
//                                       sum_j g_ij, and exp of the entropy of g_i. / sum
//
// The model is run in eval mode (no dropout) on the batches it is given.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batch.h"
#include "model/transformer.h"

namespace headcount {

struct AnalysisOptions {
  double threshold = 0.1;      // covered positions
  double mass = 0.9;           // rollout and gradient: the share of a row's weight to cover
  int64_t gradient_limit = 16; // sentences the gradient measure uses (it costs probes x length backward passes each)
  int64_t probes = 4;
  uint64_t seed = 0;  // the probes' generator
};

struct HeadStatistics {
  double entropy = 0, effective_positions = 0;
};

// One attention of one layer (self or cross), averaged over the real queries seen.
struct LayerStatistics {
  std::string stack, kind;
  int64_t layer = 0;
  std::vector<HeadStatistics> heads;
  double effective_positions = 0;  // mean over the heads
  double covered_positions = 0;    // union over the heads
  double real_keys = 0;            // mean number of keys a query may attend: the ceiling
};

struct RolloutStatistics {
  std::string stack;
  int64_t layer = 0;  // through layers 1..layer+1
  double effective_positions = 0, positions_for_mass = 0;
};

struct GradientStatistics {
  int64_t sentences = 0;
  double effective_positions = 0, positions_for_mass = 0, real_positions = 0;
};

struct AttentionAnalysis {
  AnalysisOptions options;
  int64_t examples = 0;
  std::vector<LayerStatistics> layers;
  std::vector<RolloutStatistics> rollout;
  GradientStatistics gradient;  // sentences 0 when the model has no encoder

  nlohmann::json to_json() const;
  static AttentionAnalysis from_json(const nlohmann::json& json);
  // The rollout of the last layer of a stack ("encoder", "decoder"); null when absent.
  const RolloutStatistics* top_rollout(const std::string& stack) const;
};

AttentionAnalysis analyze_attention(Transformer& model, const std::vector<Batch>& batches, const AnalysisOptions& options);

// The pieces, each tested on hand-built attention:
// entropy of each row of probabilities [..., S] (0 ln 0 = 0).
torch::Tensor row_entropy(const torch::Tensor& probabilities);
// How many of a row's largest entries it takes to reach `mass` of its sum.
int64_t positions_for_mass(const torch::Tensor& row, double mass);
// R_1..R_L from each layer's head-averaged attention [n, n] of one sentence (real positions).
std::vector<torch::Tensor> attention_rollout(const std::vector<torch::Tensor>& layers);
// g_ij for one sentence: [n, n] from an encoding function of the embedded input [1, n, d].
torch::Tensor gradient_influence(const std::function<torch::Tensor(const torch::Tensor&)>& encode,
                                 const torch::Tensor& embedded, int64_t probes, uint64_t seed);

}  // namespace headcount
