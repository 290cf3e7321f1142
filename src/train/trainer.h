// One training run end to end, for any task (task/task.h): Admin profiling, updates from
// token-budget batches, checkpoints, divergence detection and resume, into one run folder
// (run/run_folder.h). Trainer::run is the loop. When to validate, keep checkpoints and
// stop is the TrainingPolicy's (train/training_policy.h); dev and test scoring are
// train/final_test.h's.
//
// Divergence is a result, not a crash: a non-finite loss or gradient norm, or a train
// loss above train.divergence_loss, ends the run with RunStatus::Diverged and the update.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "model/checkpoint.h"
#include "model/transformer.h"
#include "run/run_folder.h"
#include "runtime/runtime.h"
#include "task/task.h"
#include "train/data_parallel.h"
#include "train/launch.h"
#include "train/loss_scaler.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/training_policy.h"
#include "train/training_state.h"
#include "util/run_lock.h"

namespace headcount {

struct TrainRequest {
  RunConfig config;
  std::string run_dir;
  // Continue from run_dir/checkpoint_last.pt (a fresh start when there is none).
  // Without it, a run folder that already holds a checkpoint is refused.
  bool resume = false;
  // Stop (as if interrupted) after this many updates in this process; 0: no limit.
  // Tests use it to check that a resumed run matches an uninterrupted one.
  int64_t stop_after_updates = 0;
  // Asked before every update (rank 0's answer decides for all ranks): true stops the run
  // cleanly, with checkpoint_last.pt saved at the current update and RunStatus::Interrupted,
  // so --resume continues from there. The CLI passes a StopSignal's (Ctrl-C, SIGTERM).
  std::function<bool()> stop_requested;
  // Data-parallel training (train/launch.h, train/data_parallel.h): where this process sits
  // in the group. Only rank 0 writes to the run folder; the others wait for it to write the
  // vocabularies they read. With train.processes, rank 0 calls start_other_ranks with the
  // rendezvous store's port once the run folder holds the resolved config.
  LaunchPlan launch;
  std::function<void(int port)> start_other_ranks;
  // The device and precision, when the caller has built them already (for launch.local_rank);
  // else made from train.device and train.precision.
  std::optional<Runtime> runtime;
};

class Trainer {
 public:
  // Prepares everything the loop needs: the run folder, the task's data, the other ranks,
  // the model (from the checkpoint when resuming), the optimizer and Admin's profile.
  Trainer(TrainRequest request, std::ostream& log);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until a budget, patience, a stop request or divergence ends the run; returns
  // the summary (written into the run folder as summary.json by rank 0).
  RunSummary run();

 private:
  // One update's gradients, before the optimizer takes them.
  struct Step {
    double loss_sum = 0, nll_sum = 0;
    int64_t loss_tokens = 0, throughput_tokens = 0;
    double loss = 0, grad_norm = 0, lr = 0;
    double seconds = 0;
    bool overflowed = false;  // fp16: a gradient overflowed, the update is skipped
  };

  void prepare_model();
  LoadedCheckpoint load_resume_checkpoint();
  void initialize_from(const std::string& run_dir);
  void profile_admin_scales();
  Decision decide();
  Step compute_gradients();
  void sum_over_ranks(Step& step);
  bool diverged(const Step& step) const;
  void record_divergence(const Step& step);
  void apply(Step& step);
  void skip(const Step& step);
  void log_update(const Step& step);
  void evaluate_on_schedule();
  void evaluate_and_checkpoint();
  void stop(Decision decision);
  RunSummary finish();
  RunSummary summary() const;

  void write_checkpoint(const std::string& path, bool with_training_state);
  const std::vector<std::vector<int64_t>>& batches_for_epoch();
  double elapsed() const;
  bool first_rank() const { return request_.launch.rank == 0; }
  std::string last_path() const { return folder_.checkpoint(CheckpointChoice::Last); }
  void join_group();

  TrainRequest request_;
  std::unique_ptr<RunLock> lock_;  // rank 0's, for as long as it trains here
  const RunConfig& config_;
  const RunFolder folder_;
  const TrainConfig& t_;
  std::ostream& log_;
  Runtime runtime_;
  bool resuming_ = false;
  int ranks_ = 1;

  std::unique_ptr<Task> task_;
  std::unique_ptr<DataParallelGroup> group_;
  ModelConfig model_config_;
  Transformer model_{nullptr};
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LossScaler> scaler_;  // fp16 only
  at::Generator generator_;
  InverseSqrtSchedule schedule_;
  std::optional<TrainingPolicy> policy_;  // once the task says what picks the best checkpoint
  int64_t parameter_total_ = 0;

  TrainingState state_;
  std::vector<std::vector<int64_t>> batches_;
  int64_t batches_epoch_ = -1;
  std::chrono::steady_clock::time_point process_start_;
  double elapsed_before_ = 0;
  IntervalClock interval_;  // the train log line's training time
  RunStatus status_ = RunStatus::Running;
  std::optional<int64_t> diverged_at_;
  int64_t updates_this_process_ = 0;
  bool terminal_ = false;
};

// Trainer(request, log).run(), as summary.json has it.
nlohmann::json train(const TrainRequest& request, std::ostream& log);

}  // namespace headcount
