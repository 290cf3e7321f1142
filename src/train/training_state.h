// What a run must get back on --resume besides weights and optimizer moments: where it is,
// the best dev score so far, the time spent, and the train log line being gathered.
// Stored as JSON inside every checkpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace headcount {

struct TrainingState {
  int64_t update = 0;
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;
  double best = std::numeric_limits<double>::quiet_NaN();  // best dev value of the checkpoint metric
  int64_t best_update = 0;
  int64_t evaluations_without_improvement = 0;
  double elapsed_s = 0;      // wall time of all processes so far
  double train_time_s = 0;   // time spent in updates (no evaluation)
  int64_t train_tokens = 0;  // tokens trained on, as the task counts them for speed
  nlohmann::json last_dev;
  nlohmann::json admin_profile;
  std::vector<int64_t> kept_updates;  // checkpoint_update{N}.pt kept for averaging
  int64_t evaluated_update = 0;       // the update of the last dev evaluation
  // fp16 (train/loss_scaler.h): updates skipped for overflowing gradients, and the scale
  // with its count of clean updates (0: no scaler).
  int64_t skipped_updates = 0;
  double loss_scale = 0;
  int64_t loss_scale_clean_updates = 0;
  // The train log line being gathered over log_every updates, so that a run resumed from a
  // checkpoint between two lines writes the same lines as an uninterrupted one.
  int64_t interval_tokens = 0;
  double interval_loss = 0, interval_nll = 0, interval_seconds = 0;
  int64_t interval_loss_tokens = 0;  // the objective's targets the loss sums are over

  nlohmann::json to_json() const;
  static TrainingState from_json(const nlohmann::json& json);
};

// A stopwatch that can be paused (the train log line's time leaves out dev evaluations)
// and started with time carried over (from the checkpoint of an earlier process).
class IntervalClock {
 public:
  explicit IntervalClock(double carried_s = 0) { restart(carried_s); }
  double seconds() const {
    return carried_s_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void restart(double carried_s = 0) {
    carried_s_ = carried_s;
    start_ = std::chrono::steady_clock::now();
  }

 private:
  double carried_s_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace headcount
