// A headcount encoder as Hugging Face's BERT (transformers' BertForMaskedLM and
// BertForSequenceClassification), exactly: the same logits from the same token ids.
//
// BERT is a post-LN encoder that normalises its embeddings. headcount encoders that are one
// as written (post-ln with model.embedding_norm) map weight for weight; the others are made
// one where the maths allows (docs/export.md):
//   - admin, admin-fixed, deepnorm: LN(w * x + f(x)) with x the output of a LayerNorm
//     (the embeddings' or the previous sub-layer's). w is folded into that LayerNorm's gain
//     and bias (it then produces w * x), and the sub-layer's input projections are divided
//     by w column by column (f reads x = (w * x) / w). deepnorm's alpha is a w of equal entries.
//   - a head narrower than d_model / heads (a single-head reshaping: one head of 16 in a
//     d 128 layer) is a BERT head of width d_model / heads whose extra query, key and value
//     rows and output columns are zero; the score scale 1/sqrt(width) is folded into the
//     query weights and bias.
// Positions become BERT's learned table (sinusoidal ones are its values), segments a zero
// table, every LayerNorm's epsilon headcount's 1e-5.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "export/safetensors_file.h"
#include "model/transformer.h"

namespace headcount {

// "" when the model has an exact BERT form, else why not (one sentence a user can act on).
std::string why_not_bert(const ModelConfig& config);

struct BertForm {
  nlohmann::ordered_json config;  // transformers' config.json (model_type bert)
  std::vector<NamedTensor> tensors;  // in transformers' names, float32
};
// The model's BERT form; labels name the classes of a classifier (empty: LABEL_i). Throws
// std::invalid_argument with why_not_bert's reason when there is none, or when a residual
// weight has an entry of 0 (nothing to divide by).
BertForm to_bert(const Transformer& model, const std::vector<std::string>& labels = {});

}  // namespace headcount
