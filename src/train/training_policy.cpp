#include "train/training_policy.h"

#include <cmath>

namespace headcount {

TrainingPolicy::TrainingPolicy(const TrainConfig& train, MetricInfo metric, int64_t stop_after_updates)
    : t_(train),
      metric_(std::move(metric)),
      stop_after_updates_(stop_after_updates) {}

Decision TrainingPolicy::decide(const TrainingState& state, const RunClock& clock) const {
  if ((t_.max_updates > 0 && state.update >= t_.max_updates) || (t_.max_epochs > 0 && state.epoch >= t_.max_epochs) ||
      (t_.max_minutes > 0 && clock.elapsed_s >= t_.max_minutes * 60.0) || patience_spent(state))
    return Decision::Finish;
  if (stop_after_updates_ > 0 && clock.updates_this_process >= stop_after_updates_) return Decision::Interrupt;
  if (clock.stop_requested) return Decision::Stop;
  return Decision::Continue;
}

bool TrainingPolicy::final_validation_due(const TrainingState& state) const {
  return state.evaluated_update != state.update && state.update > 0;
}

bool TrainingPolicy::record_dev(TrainingState& state, double value) const {
  state.evaluated_update = state.update;
  const bool improved = std::isnan(state.best) || metric_.better(value, state.best);
  if (improved) {
    state.best = value, state.best_update = state.update, state.evaluations_without_improvement = 0;
  } else {
    ++state.evaluations_without_improvement;
  }
  return improved;
}

bool TrainingPolicy::patience_spent(const TrainingState& state) const {
  return t_.patience > 0 && state.evaluations_without_improvement >= t_.patience;
}

std::vector<int64_t> TrainingPolicy::keep_checkpoint(TrainingState& state) const {
  std::vector<int64_t> dropped;
  state.kept_updates.push_back(state.update);
  while (static_cast<int64_t>(state.kept_updates.size()) > t_.average_last) {
    dropped.push_back(state.kept_updates.front());
    state.kept_updates.erase(state.kept_updates.begin());
  }
  return dropped;
}

bool TrainingPolicy::average_wins(double average_value, double best_value) const {
  return !(std::isnan(average_value) || metric_.better(best_value, average_value));
}

}  // namespace headcount
