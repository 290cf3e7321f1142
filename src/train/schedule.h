// Inverse square root learning-rate schedule with linear warmup (fairseq's
// inverse_sqrt): from warmup_init_lr to lr over warmup_updates, then lr * sqrt(warmup / update).
#pragma once

#include <cmath>
#include <cstdint>

namespace headcount {

struct InverseSqrtSchedule {
  double lr = 1e-3;
  double warmup_init_lr = 1e-7;
  int64_t warmup_updates = 1000;

  // The learning rate for update number `update` (1-based).
  double at(int64_t update) const {
    if (warmup_updates > 0 && update < warmup_updates)
      return warmup_init_lr + (lr - warmup_init_lr) * static_cast<double>(update) / warmup_updates;
    if (warmup_updates <= 0) return lr;
    return lr * std::sqrt(static_cast<double>(warmup_updates) / static_cast<double>(update));
  }
};

}  // namespace headcount
