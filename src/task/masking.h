// Which tokens a masked-LM predicts, and what it reads in their place, as BERT and RoBERTa
// choose them (fairseq's MaskTokensDataset):
//   - of a sequence's ordinary tokens (never <s>, </s> or padding), int(p * n + u) are
//     chosen, u uniform in [0, 1) (probabilistic rounding, so the expected share is p),
//     at least one; with whole-word masking n counts words and a chosen word brings all
//     its pieces;
//   - each chosen token becomes <mask> with probability 1 - random - unmasked, a random
//     ordinary token with probability random, and stays itself otherwise;
//   - the draw is a function of the seed alone: the trainer seeds it from (run seed, epoch,
//     sequence), so every epoch masks anew and a resumed run masks as before.
#pragma once

#include <cstdint>
#include <vector>

namespace headcount {

struct MaskingOptions {
  double mask_probability = 0.15;
  double random_token_probability = 0.1;
  double leave_unmasked_probability = 0.1;
  bool whole_words = false;
  int64_t mask_index = 0;        // <mask>
  int64_t first_ordinary = 4;    // ordinary tokens are [first_ordinary, vocabulary) without mask_index
  int64_t vocabulary_size = 0;
};

struct MaskedSequence {
  std::vector<int64_t> tokens;     // what the model reads
  std::vector<int64_t> positions;  // the chosen positions, ascending
  std::vector<int64_t> targets;    // the original token at each chosen position
};

// tokens: a whole sequence (<s> ... </s>); starts_word[i]: token i begins a word (used with
// whole_words; may be empty otherwise). Tokens below first_ordinary are never chosen.
MaskedSequence mask_sequence(const std::vector<int64_t>& tokens, const std::vector<bool>& starts_word,
                             const MaskingOptions& options, uint64_t seed);

// A seed for sequence `index` of `epoch` from the run's seed (a splitmix64 mix).
uint64_t masking_seed(int64_t run_seed, int64_t epoch, int64_t index);

}  // namespace headcount
