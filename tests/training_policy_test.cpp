// When a run validates, keeps checkpoints and stops (train/training_policy.h), decided on
// the TrainingState alone.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "train/training_policy.h"

namespace headcount {
namespace {

const MetricInfo kWer{"wer", "WER", /*lower_is_better=*/true};
const MetricInfo kBleu{"bleu", "BLEU", /*lower_is_better=*/false};

TEST(TrainingPolicy, ABudgetOrPatienceFinishesBeforeAnInterruptOrAStop) {
  TrainConfig t;
  t.max_updates = 10;
  t.patience = 2;
  const TrainingPolicy policy(t, kWer, /*stop_after_updates=*/3);
  TrainingState state;
  EXPECT_EQ(policy.decide(state, {}), Decision::Continue);
  EXPECT_EQ(policy.decide(state, {0, 0, true}), Decision::Stop);
  EXPECT_EQ(policy.decide(state, {0, 3, true}), Decision::Interrupt);
  state.update = 10;
  EXPECT_EQ(policy.decide(state, {0, 3, true}), Decision::Finish);
  state.update = 4, state.evaluations_without_improvement = 2;
  EXPECT_EQ(policy.decide(state, {0, 3, true}), Decision::Finish);
}

TEST(TrainingPolicy, EpochAndWallTimeBudgets) {
  TrainConfig t;
  t.max_updates = 0;
  t.max_epochs = 2;
  t.max_minutes = 1;
  const TrainingPolicy policy(t, kWer);
  TrainingState state;
  state.epoch = 1;
  EXPECT_EQ(policy.decide(state, {59.0, 0, false}), Decision::Continue);
  EXPECT_EQ(policy.decide(state, {60.0, 0, false}), Decision::Finish);
  state.epoch = 2;
  EXPECT_EQ(policy.decide(state, {0.0, 0, false}), Decision::Finish);
}

TEST(TrainingPolicy, DevScoresKeepTheBestAndCountEvaluationsWithoutImprovement) {
  TrainConfig t;
  t.patience = 2;
  const TrainingPolicy policy(t, kBleu);
  TrainingState state;
  state.update = 100;
  EXPECT_TRUE(policy.record_dev(state, 10.0));  // the first score is the best so far
  state.update = 200;
  EXPECT_FALSE(policy.record_dev(state, 10.0));  // a tie is no improvement
  EXPECT_FALSE(policy.patience_spent(state));
  state.update = 300;
  EXPECT_TRUE(policy.record_dev(state, 12.5));
  EXPECT_EQ(state.best, 12.5);
  EXPECT_EQ(state.best_update, 300);
  EXPECT_EQ(state.evaluations_without_improvement, 0);
  for (int64_t u : {400, 500}) {
    state.update = u;
    EXPECT_FALSE(policy.record_dev(state, 11.0));
  }
  EXPECT_TRUE(policy.patience_spent(state));
  EXPECT_EQ(state.evaluated_update, 500);
  EXPECT_FALSE(policy.final_validation_due(state));
  state.update = 510;
  EXPECT_TRUE(policy.final_validation_due(state));
}

TEST(TrainingPolicy, KeepsTheLastCheckpointsForAveraging) {
  TrainConfig t;
  t.average_last = 2;
  const TrainingPolicy policy(t, kWer);
  TrainingState state;
  std::vector<int64_t> dropped;
  for (int64_t u : {10, 20, 30, 40}) {
    state.update = u;
    for (auto d : policy.keep_checkpoint(state)) dropped.push_back(d);
  }
  EXPECT_EQ(state.kept_updates, (std::vector<int64_t>{30, 40}));
  EXPECT_EQ(dropped, (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(policy.keeps_checkpoints());
  EXPECT_FALSE(TrainingPolicy(TrainConfig{}, kWer).keeps_checkpoints());
}

TEST(TrainingPolicy, TheAverageWinsUnlessItIsWorseOrNotANumber) {
  const TrainingPolicy policy(TrainConfig{}, kWer);
  EXPECT_TRUE(policy.average_wins(20.0, 21.0));
  EXPECT_TRUE(policy.average_wins(21.0, 21.0));
  EXPECT_FALSE(policy.average_wins(22.0, 21.0));
  EXPECT_FALSE(policy.average_wins(std::numeric_limits<double>::quiet_NaN(), 21.0));
}

TEST(TrainingPolicy, LogAndValidationFollowTheirIntervals) {
  TrainConfig t;
  t.log_every = 5;
  t.valid_every = 20;
  const TrainingPolicy policy(t, kWer);
  EXPECT_TRUE(policy.log_due(15));
  EXPECT_FALSE(policy.log_due(16));
  EXPECT_TRUE(policy.validation_due(40));
  EXPECT_FALSE(policy.validation_due(45));
}

}  // namespace
}  // namespace headcount
