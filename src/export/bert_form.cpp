#include "export/bert_form.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace headcount {

std::string why_not_bert(const ModelConfig& c) {
  if (c.architecture != Architecture::Encoder)
    return fmt::format("a {} model is not an encoder; BERT is one", to_string(c.architecture));
  if (c.head == Head::None) return "the model has no masked-LM or classification head";
  const auto& traits = traits_of(c.residual);
  if (traits.normalizes_input || traits.final_norm)
    return fmt::format("the {} scheme normalises each sub-layer's input; BERT normalises the sum (post-LN) and has "
                       "no final LayerNorm",
                       to_string(c.residual));
  if (!traits.normalizes_sum) return fmt::format("the {} scheme has no LayerNorm after the sum", to_string(c.residual));
  if (!c.embedding_norm)
    return "the model was built without model.embedding_norm: BERT normalises its embeddings (LayerNorm(word + "
           "position)) and headcount's encoder then scaled them by sqrt(d_model) instead";
  if (c.d_model % c.encoder.heads != 0 || c.encoder.resolved_head_dim(c.d_model) > c.d_model / c.encoder.heads)
    return fmt::format("{} heads of width {} do not fit BERT's heads of width d_model / heads = {}", c.encoder.heads,
                       c.encoder.resolved_head_dim(c.d_model), c.d_model / c.encoder.heads);
  if (c.head == Head::MaskedLm && c.activation != Activation::Gelu)
    return fmt::format("BERT's masked-LM head uses the model's activation ({}), headcount's is always GELU",
                       to_string(c.activation));
  if (c.max_positions < 1) return "the model has no positions";
  return "";
}

namespace {

torch::Tensor f32(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat).clone(); }

// A head-major projection [heads * head_dim, in] as BERT's [heads * width, in], each head's
// rows followed by zero rows up to width (and the same for a bias [heads * head_dim]).
torch::Tensor pad_heads(const torch::Tensor& t, int64_t heads, int64_t head_dim, int64_t width) {
  if (head_dim == width) return t;
  auto shape = t.sizes().vec();
  auto per_head = t.reshape({heads, head_dim, -1});
  auto padded = torch::zeros({heads, width, per_head.size(2)}, t.options());
  padded.narrow(1, 0, head_dim).copy_(per_head);
  shape[0] = heads * width;
  return padded.reshape(shape);
}

// The residual weight of a step as a vector of d_model entries (1 for schemes without one).
torch::Tensor residual_weight(const Residual& residual, int64_t d_model) {
  if (residual->admin_scale.defined()) return f32(residual->admin_scale);
  return torch::full({d_model}, residual->scale());
}

}  // namespace

BertForm to_bert(const Transformer& model, const std::vector<std::string>& labels) {
  const auto& c = model->config();
  if (const auto reason = why_not_bert(c); !reason.empty()) throw std::invalid_argument(reason);
  const int64_t d = c.d_model, heads = c.encoder.heads, head_dim = c.encoder.resolved_head_dim(d);
  const int64_t width = d / heads;
  const double query_scale = std::sqrt(static_cast<double>(width) / static_cast<double>(head_dim));

  BertForm out;
  auto& t = out.tensors;
  auto add = [&](const std::string& name, const torch::Tensor& value) { t.emplace_back(name, value.contiguous()); };
  auto add_norm = [&](const std::string& name, const torch::nn::LayerNorm& norm, const torch::Tensor& w) {
    add(name + ".weight", f32(norm->weight) * w);
    add(name + ".bias", f32(norm->bias) * w);
  };
  const std::string body = "bert.";

  // The residual weight each LayerNorm's output is multiplied by: that of the step it feeds.
  const auto& layers = model->encoder->layers;
  auto feeds = [&](size_t layer) {
    return layer < layers.size() ? residual_weight(layers[layer]->self_attention_residual, d) : torch::ones({d});
  };

  add(body + "embeddings.word_embeddings.weight", f32(model->source_embedding->weight));
  add(body + "embeddings.position_embeddings.weight",
      model->learned_positions ? f32(model->learned_positions->weight) : f32(*model->named_buffers().find("sinusoidal_positions")));
  add(body + "embeddings.token_type_embeddings.weight", torch::zeros({2, d}));
  add_norm(body + "embeddings.LayerNorm", model->source_embedding_norm, feeds(0));

  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& layer = layers[i];
    const auto prefix = fmt::format("{}encoder.layer.{}.", body, i);
    const auto w_attention = residual_weight(layer->self_attention_residual, d);
    const auto w_ffn = residual_weight(layer->feed_forward_residual, d);
    if (!(w_attention.ne(0).all().item<bool>() && w_ffn.ne(0).all().item<bool>()))
      throw std::invalid_argument(fmt::format("encoder layer {}: a residual weight has an entry of 0", i));
    const int64_t inner = heads * head_dim;
    const auto qkv_weight = f32(layer->self_attention->query_key_value->weight) / w_attention.unsqueeze(0);
    const auto qkv_bias = f32(layer->self_attention->query_key_value->bias);
    const char* names[] = {"query", "key", "value"};
    for (int64_t part = 0; part < 3; ++part) {
      auto weight = qkv_weight.narrow(0, part * inner, inner), bias = qkv_bias.narrow(0, part * inner, inner);
      if (part == 0) weight = weight * query_scale, bias = bias * query_scale;
      add(prefix + "attention.self." + names[part] + ".weight", pad_heads(weight, heads, head_dim, width));
      add(prefix + "attention.self." + names[part] + ".bias", pad_heads(bias, heads, head_dim, width));
    }
    // The output projection reads heads * head_dim columns; BERT's context has zeros between.
    const auto output = f32(layer->self_attention->output->weight);
    add(prefix + "attention.output.dense.weight",
        pad_heads(output.t().contiguous(), heads, head_dim, width).t());
    add(prefix + "attention.output.dense.bias", f32(layer->self_attention->output->bias));
    add_norm(prefix + "attention.output.LayerNorm", layer->self_attention_residual->norm, w_ffn);
    add(prefix + "intermediate.dense.weight", f32(layer->feed_forward->expand->weight) / w_ffn.unsqueeze(0));
    add(prefix + "intermediate.dense.bias", f32(layer->feed_forward->expand->bias));
    add(prefix + "output.dense.weight", f32(layer->feed_forward->contract->weight));
    add(prefix + "output.dense.bias", f32(layer->feed_forward->contract->bias));
    add_norm(prefix + "output.LayerNorm", layer->feed_forward_residual->norm, feeds(i + 1));
  }

  const bool tied = model->output_weight.is_same(model->source_embedding->weight);
  nlohmann::ordered_json config{
      {"model_type", "bert"},
      {"vocab_size", c.source_vocab_size},
      {"hidden_size", d},
      {"num_hidden_layers", c.encoder.layers},
      {"num_attention_heads", heads},
      {"intermediate_size", c.encoder.ffn_dim},
      {"hidden_act", c.activation == Activation::Gelu ? "gelu" : "relu"},
      {"hidden_dropout_prob", c.dropout},
      {"attention_probs_dropout_prob", c.attention_dropout},
      {"max_position_embeddings", c.max_positions},
      {"type_vocab_size", 2},
      {"layer_norm_eps", 1e-5},
      {"pad_token_id", kPaddingIndex},
      {"position_embedding_type", "absolute"},
      {"tie_word_embeddings", tied},
  };
  if (c.head == Head::MaskedLm) {
    config["architectures"] = {"BertForMaskedLM"};
    const auto& head = model->masked_lm_head;
    add("cls.predictions.transform.dense.weight", f32(head->dense->weight));
    add("cls.predictions.transform.dense.bias", f32(head->dense->bias));
    add("cls.predictions.transform.LayerNorm.weight", f32(head->norm->weight));
    add("cls.predictions.transform.LayerNorm.bias", f32(head->norm->bias));
    add("cls.predictions.bias", f32(head->bias));
    add("cls.predictions.decoder.weight", f32(model->output_weight));
    add("cls.predictions.decoder.bias", f32(head->bias));
  } else {
    config["architectures"] = {"BertForSequenceClassification"};
    const auto& head = model->classification_head;
    add("bert.pooler.dense.weight", f32(head->dense->weight));
    add("bert.pooler.dense.bias", f32(head->dense->bias));
    add("classifier.weight", f32(head->output->weight));
    add("classifier.bias", f32(head->output->bias));
    config["num_labels"] = c.classes;
    config["problem_type"] = c.classes == 1 ? "regression" : "single_label_classification";
    nlohmann::ordered_json id2label = nlohmann::ordered_json::object(), label2id = nlohmann::ordered_json::object();
    for (int64_t k = 0; k < c.classes; ++k) {
      const auto name = static_cast<size_t>(k) < labels.size() ? labels[k] : fmt::format("LABEL_{}", k);
      id2label[std::to_string(k)] = name;
      label2id[name] = k;
    }
    config["id2label"] = id2label;
    config["label2id"] = label2id;
  }
  out.config = config;
  return out;
}

}  // namespace headcount
