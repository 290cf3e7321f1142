// When a run validates, keeps checkpoints, stops, and what it tests: the run's policy, kept
// apart from the update itself (train/trainer.h), as Marian's Scheduler is. Pure decisions
// on the TrainingState and the config; it reads and writes no files.
#pragma once

#include <cstdint>
#include <vector>

#include "config/run_config.h"
#include "task/task.h"
#include "train/training_state.h"

namespace headcount {

// What happens before the next update. Finish: a budget or patience ended the run.
// Interrupt: the caller's update limit (tests). Stop: a stop request; the run saves its
// checkpoint_last.pt and --resume continues it.
enum class Decision : int64_t { Continue = 0, Finish = 1, Interrupt = 2, Stop = 3 };

// Where the run stands as the policy sees it, besides its TrainingState.
struct RunClock {
  double elapsed_s = 0;              // wall time of all processes so far
  int64_t updates_this_process = 0;  // for the caller's update limit
  bool stop_requested = false;
};

class TrainingPolicy {
 public:
  // metric: what picks the best checkpoint (the task's checkpoint metric).
  // stop_after_updates: interrupt after this many updates in this process (0: no limit).
  TrainingPolicy(const TrainConfig& train, MetricInfo metric, int64_t stop_after_updates = 0);

  // Budgets (updates, epochs, minutes) and patience finish the run before a stop request
  // or the update limit interrupt it.
  Decision decide(const TrainingState& state, const RunClock& clock) const;
  bool log_due(int64_t update) const { return update % t_.log_every == 0; }
  bool validation_due(int64_t update) const { return update % t_.valid_every == 0; }
  // The run finished since its last dev evaluation: evaluate once more before testing.
  bool final_validation_due(const TrainingState& state) const;

  // A dev score at state.update: updates the best and the patience count; true when it is
  // the best so far (then checkpoint_best.pt is written).
  bool record_dev(TrainingState& state, double value) const;
  // No dev improvement in train.patience evaluations.
  bool patience_spent(const TrainingState& state) const;

  // Checkpoint averaging (train.average_last): keeps state.update's checkpoint and returns
  // the updates whose checkpoints to delete, oldest first.
  bool keeps_checkpoints() const { return t_.average_last > 0; }
  std::vector<int64_t> keep_checkpoint(TrainingState& state) const;
  // Averaging helps near convergence and hurts while the model still moves fast, so the
  // dev set decides between the average and the best single checkpoint.
  bool average_wins(double average_value, double best_value) const;

  const MetricInfo& metric() const { return metric_; }

 private:
  const TrainConfig t_;
  MetricInfo metric_;
  int64_t stop_after_updates_;
};

}  // namespace headcount
