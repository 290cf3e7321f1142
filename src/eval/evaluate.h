// Scoring a model on a split: teacher-forced loss, then decoding and the task's metrics
// (WER/PER for CMUdict, BLEU and chrF for text). Shared by dev evaluation during training
// and by `headcount evaluate`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/task_data.h"
#include "eval/decode.h"
#include "model/transformer.h"

namespace headcount {

// Summed label-smoothed loss and NLL per target token over every example.
nlohmann::json evaluate_loss(Transformer& model, const std::vector<Example>& examples, int64_t max_tokens,
                             double label_smoothing);

// Decodes tokenized sources in length-sorted batches; returns tokenized outputs in input order.
std::vector<std::string> translate_sources(Transformer& model, const TaskData& data,
                                           const std::vector<std::string>& sources, const DecodeOptions& options,
                                           int64_t max_tokens);

// Decodes the first `limit` evaluation items (all when limit <= 0) and scores them:
// {"wer","per","words"} for CMUdict, {"bleu","chrf","sentences"} for text.
nlohmann::json evaluate_decoding(Transformer& model, const TaskData& data, const ParallelText& split,
                                 const DecodeOptions& options, int64_t max_tokens, int64_t limit);

// The metric that picks the best checkpoint ("wer" or "bleu") and whether lower is better.
std::string primary_metric(const TaskData& data);
bool lower_is_better(const std::string& metric);

}  // namespace headcount
