// Scoring a run's models on dev and test as training does: dev with the generation limit
// of train.valid_decode_limit, test with the beam of eval.beam, both under the run's
// precision.
#pragma once

#include <iosfwd>

#include "config/run_config.h"
#include "model/transformer.h"
#include "run/run_folder.h"
#include "runtime/runtime.h"
#include "task/task.h"
#include "train/training_policy.h"
#include "train/training_state.h"

namespace headcount {

Metrics evaluate_dev(const Task& task, Transformer& model, const Runtime& runtime, const TrainConfig& train);

// The test scores of a finished run, into summary.test: of checkpoint_best.pt, or of the
// average of the kept checkpoints (written as checkpoint_average.pt, its dev score into
// summary.average_dev) when the policy prefers it on dev.
void test_finished_run(const RunFolder& folder, const Task& task, const Runtime& runtime, const RunConfig& config,
                       const TrainingPolicy& policy, const TrainingState& state, RunSummary& summary, std::ostream& log);

}  // namespace headcount
