#include "model/model_fields.h"

namespace headcount {

static void describe_stack(StackConfig& s, FieldTable& t, const std::string& p) {
  t.add_integer(p + ".layers", s.layers, "number of layers");
  t.add_integer(p + ".heads", s.heads, "attention heads per layer");
  t.add_integer(p + ".head_dim", s.head_dim, "width of one head; 0 means d_model / heads");
  t.add_integer(p + ".ffn_dim", s.ffn_dim, "inner width of the feed-forward sub-layer");
}

void describe_model_fields(ModelConfig& m, FieldTable& t, const std::string& p) {
  t.add_enum(p + ".architecture", m.architecture,
           {Architecture::EncoderDecoder, Architecture::Encoder, Architecture::Decoder}, &parse_architecture,
           "which stacks the model has");
  t.add_integer(p + ".d_model", m.d_model, "model width (residual stream)");
  describe_stack(m.encoder, t, p + ".encoder");
  describe_stack(m.decoder, t, p + ".decoder");
  t.add_enum(p + ".activation", m.activation, {Activation::Relu, Activation::Gelu}, &parse_activation,
           "FFN activation");
  t.add_number(p + ".dropout", m.dropout, "dropout on embeddings and on each sub-layer output before the residual sum");
  t.add_number(p + ".attention_dropout", m.attention_dropout, "dropout on attention probabilities");
  t.add_number(p + ".activation_dropout", m.activation_dropout, "dropout after the FFN activation");
  t.add_boolean(p + ".learned_positions", m.learned_positions, "learned position embeddings instead of sinusoidal");
  t.add_boolean(p + ".embedding_norm", m.embedding_norm,
                "LayerNorm(word + position) before the first layer, words unscaled (BERT, RoBERTa); off: sqrt(d) * word + "
                "position");
  t.add_integer(p + ".max_positions", m.max_positions, "longest sequence the model accepts");
  t.add_boolean(p + ".share_all_embeddings", m.share_all_embeddings,
                "one table for source, target and output (needs a joint vocabulary)");
  t.add_boolean(p + ".share_decoder_input_output_embed", m.share_decoder_input_output_embed,
                "tie the output projection to the target embedding");
  t.add_enum(p + ".residual", m.residual, all_residual_schemes(), &parse_residual_scheme,
             "residual scheme (the table below and docs/method.md)");
  t.add_integer(p + ".source_vocab_size", m.source_vocab_size, "set from the data; leave 0");
  t.add_integer(p + ".target_vocab_size", m.target_vocab_size, "set from the data; leave 0");
  t.add_enum(p + ".head", m.head, {Head::None, Head::MaskedLm, Head::Classification}, &parse_head,
             "what an encoder-only model has on top (set by the task: masked-lm, classification)");
  t.add_integer(p + ".classes", m.classes, "classification head outputs; set from the data");
}

}  // namespace headcount
