// Inverse square root learning-rate schedule with linear warmup (fairseq's
// inverse_sqrt): from warmup_init_lr to lr over warmup_updates, then lr * sqrt(warmup / update).
// Optionally the last decay_updates updates of a max_updates budget fall linearly from
// where inverse-sqrt had reached to zero: annealing to zero at the end of a fixed budget is
// worth several WER points over stopping mid-decay, and the updates before the decay are
// the same as without it, so a run can be extended into a decay by --resume.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace headcount {

struct InverseSqrtSchedule {
  double lr = 1e-3;
  double warmup_init_lr = 1e-7;
  int64_t warmup_updates = 1000;
  int64_t max_updates = 0;    // the budget the final decay ends at
  int64_t decay_updates = 0;  // 0: no final decay

  // The learning rate for update number `update` (1-based).
  double at(int64_t update) const {
    const int64_t decay_start = max_updates - decay_updates;
    if (decay_updates > 0 && update > decay_start) {
      const double remaining = static_cast<double>(std::max<int64_t>(max_updates - update, 0));
      return undecayed(decay_start) * remaining / static_cast<double>(decay_updates);
    }
    return undecayed(update);
  }

 private:
  double undecayed(int64_t update) const {
    if (warmup_updates > 0 && update < warmup_updates)
      return warmup_init_lr + (lr - warmup_init_lr) * static_cast<double>(update) / warmup_updates;
    if (warmup_updates <= 0) return lr;
    return lr * std::sqrt(static_cast<double>(warmup_updates) / static_cast<double>(update));
  }
};

}  // namespace headcount
