// The tensors of one batch, laid out as the model reads them (fairseq calls this a sample).
// Which fields a task fills, and what they mean for it, is in the task's header:
//   sequence-to-sequence  source, target_input, target_output
//   masked-LM             source (masked), target_output (original tokens at target_positions)
//   classification        source, target_output (labels, or scores for regression)
// Token tensors are int64 with padding 0 (data/vocabulary.h).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace headcount {

struct Batch {
  torch::Tensor source;            // [batch, S]: what the encoder reads (tokens + EOS, padded)
  torch::Tensor target_input;      // [batch, T]: what the decoder reads (BOS + tokens, padded)
  torch::Tensor target_output;     // the targets of the objective
  torch::Tensor target_positions;  // masked-LM: flat indices into source of the predicted tokens
  int64_t target_tokens = 0;       // the objective's targets (real tokens in target_output)
  // What training speed counts: target tokens for seq2seq (as fairseq), real input tokens
  // for encoder tasks.
  int64_t throughput_tokens = 0;
  int64_t padded_tokens = 0;       // batch x longest sequence: what the token budget counts

  // The same batch on another device (tensors copied, counts kept).
  Batch to(const torch::Device& device) const {
    Batch out = *this;
    for (auto* t : {&out.source, &out.target_input, &out.target_output, &out.target_positions})
      if (t->defined()) *t = t->to(device);
    return out;
  }
};

}  // namespace headcount
