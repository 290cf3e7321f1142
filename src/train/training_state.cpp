#include "train/training_state.h"

#include <cmath>

namespace headcount {

nlohmann::json TrainingState::to_json() const {
  return {{"update", update},
          {"epoch", epoch},
          {"batch_in_epoch", batch_in_epoch},
          {"best", std::isnan(best) ? nlohmann::json() : nlohmann::json(best)},
          {"best_update", best_update},
          {"evaluations_without_improvement", evaluations_without_improvement},
          {"elapsed_s", elapsed_s},
          {"train_time_s", train_time_s},
          {"train_tokens", train_tokens},
          {"last_dev", last_dev},
          {"admin_profile", admin_profile},
          {"kept_updates", kept_updates},
          {"evaluated_update", evaluated_update},
          {"skipped_updates", skipped_updates},
          {"loss_scale", loss_scale},
          {"loss_scale_clean_updates", loss_scale_clean_updates},
          {"interval",
           {{"tokens", interval_tokens},
            {"loss", interval_loss},
            {"nll", interval_nll},
            {"seconds", interval_seconds},
            {"loss_tokens", interval_loss_tokens}}}};
}

TrainingState TrainingState::from_json(const nlohmann::json& j) {
  TrainingState s;
  s.update = j.at("update");
  s.epoch = j.at("epoch");
  s.batch_in_epoch = j.at("batch_in_epoch");
  s.best = j.at("best").is_null() ? std::numeric_limits<double>::quiet_NaN() : j.at("best").get<double>();
  s.best_update = j.at("best_update");
  s.evaluations_without_improvement = j.at("evaluations_without_improvement");
  s.elapsed_s = j.at("elapsed_s");
  s.train_time_s = j.at("train_time_s");
  s.train_tokens = j.at("train_tokens");
  s.last_dev = j.at("last_dev");
  s.admin_profile = j.at("admin_profile");
  s.kept_updates = j.at("kept_updates").get<std::vector<int64_t>>();
  // Checkpoints written before these were kept: every one was at a dev evaluation, and
  // what their log line had gathered is lost.
  s.evaluated_update = j.value("evaluated_update", s.update);
  s.skipped_updates = j.value("skipped_updates", int64_t{0});
  s.loss_scale = j.value("loss_scale", 0.0);
  s.loss_scale_clean_updates = j.value("loss_scale_clean_updates", int64_t{0});
  if (j.contains("interval")) {
    const auto& interval = j.at("interval");
    s.interval_tokens = interval.at("tokens");
    s.interval_loss = interval.at("loss");
    s.interval_nll = interval.at("nll");
    s.interval_seconds = interval.at("seconds");
    // Before throughput and loss tokens were told apart (seq2seq only), they were one count.
    s.interval_loss_tokens = interval.value("loss_tokens", s.interval_tokens);
  }
  return s;
}

}  // namespace headcount
