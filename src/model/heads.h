// What an encoder-only model puts on its encoder's output, as BERT, RoBERTa and fairseq
// build them (ModelConfig::head).
//   masked-LM      dense(d, d) -> GELU -> LayerNorm -> the output projection tied to the
//                  embeddings (plus a bias of its own), applied only to the rows asked for:
//                  the vocabulary projection of the positions that are not predicted is
//                  never computed.
//   classification the first token's state -> dropout -> dense(d, d) -> tanh -> dropout ->
//                  linear(d, classes) (fairseq's RobertaClassificationHead; BERT's pooler is
//                  the dense + tanh).
#pragma once

#include <torch/torch.h>

#include "model/linear.h"

namespace headcount {

class MaskedLmHeadImpl : public torch::nn::Module {
 public:
  // output_weight: [vocab, d], the embedding table the projection is tied to.
  MaskedLmHeadImpl(int64_t d_model, torch::Tensor output_weight);
  // rows: [N, d] hidden states -> [N, vocab] scores.
  torch::Tensor forward(const torch::Tensor& rows);

  Linear dense{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor bias;  // [vocab]

 private:
  torch::Tensor output_weight_;
};
TORCH_MODULE(MaskedLmHead);

class ClassificationHeadImpl : public torch::nn::Module {
 public:
  ClassificationHeadImpl(int64_t d_model, int64_t classes, double dropout);
  // hidden: [batch, T, d] -> [batch, classes] from position 0.
  torch::Tensor forward(const torch::Tensor& hidden);

  Linear dense{nullptr};
  Linear output{nullptr};

 private:
  double dropout_;
};
TORCH_MODULE(ClassificationHead);

}  // namespace headcount
