#include "train/trainer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <mutex>

#include "model/admin_profile.h"
#include "model/checkpoint.h"
#include "runtime/autocast.h"
#include "task/task_factory.h"
#include "train/final_test.h"
#include "train/gradient_clipping.h"
#include "run/run_folder.h"
#include "util/durable_file.h"
#include "util/resident_memory.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_scales(const std::vector<double>& scales) {
  std::string out;
  for (double w : scales) out += fmt::format("{}{:.3f}", out.empty() ? "" : " ", w);
  return out;
}

// The dropout seed of one rank's update in data-parallel training: each rank its own masks,
// and a resumed run the same ones as before. The seed, update and rank are spread over the
// 64 bits by odd multipliers (the golden-ratio increment and SplitMix64's two mixing
// multipliers) and combined.
uint64_t rank_dropout_seed(int64_t seed, int64_t update, int rank) {
  constexpr uint64_t kSeedMultiplier = 0x9E3779B97F4A7C15ull;    // 2^64 / golden ratio
  constexpr uint64_t kUpdateMultiplier = 0xBF58476D1CE4E5B9ull;  // SplitMix64's first mix
  constexpr uint64_t kRankMultiplier = 0x94D049BB133111EBull;    // SplitMix64's second mix
  return static_cast<uint64_t>(seed) * kSeedMultiplier ^ static_cast<uint64_t>(update) * kUpdateMultiplier ^
         static_cast<uint64_t>(rank) * kRankMultiplier;
}

}  // namespace

nlohmann::json train(const TrainRequest& request, std::ostream& log) { return Trainer(request, log).run().to_json(); }

Trainer::Trainer(TrainRequest request, std::ostream& log)
    : request_(std::move(request)),
      config_(request_.config),
      folder_(request_.run_dir),
      t_(config_.train),
      log_(log),
      runtime_(request_.runtime ? *request_.runtime : make_runtime(t_.device, t_.precision, request_.launch.local_rank)),
      generator_(at::detail::getDefaultCPUGenerator()),
      schedule_{t_.lr, t_.warmup_init_lr, t_.warmup_updates, t_.max_updates, t_.decay_updates} {
  // One trainer per folder: taken before anything is read or written there.
  if (first_rank()) lock_ = std::make_unique<RunLock>(folder_.lock());
  const bool has_checkpoint = fs::exists(last_path()) || fs::exists(previous_path(last_path()));
  resuming_ = request_.resume && has_checkpoint;
  if (has_checkpoint && !request_.resume)
    throw std::runtime_error(fmt::format(
        "{} holds a checkpoint of an earlier run; pass --resume to continue it, or choose another --out", request_.run_dir));
  ranks_ = request_.launch.world_size;
  task_ = make_task(config_, runtime_);
  if (first_rank()) {
    fs::create_directories(folder_.dir());
    write_file_atomically(folder_.config(), to_yaml(config_));
  }
  if (request_.launch.distributed()) join_group();
  // Rank 0 makes the vocabularies; the others read them once it has.
  if (first_rank()) task_->load(request_.run_dir, /*create=*/true);
  if (group_) group_->value_of_first_rank(0);
  if (!first_rank()) task_->load(request_.run_dir, /*create=*/false);
  prepare_model();
  log_ << fmt::format("model: {} {}, {} encoder / {} decoder layers, {} parameters; {}, {} threads\n",
                      to_string(model_config_.architecture), to_string(model_config_.residual),
                      model_config_.has_encoder() ? model_config_.encoder.layers : 0,
                      model_config_.has_decoder() ? model_config_.decoder.layers : 0, parameter_total_,
                      runtime_.describe(), torch::get_num_threads());
  log_ << task_->describe() << "\n";
  if (const auto caveat = runtime_.caveat(); !caveat.empty()) log_ << "note: " << caveat << "\n";
  // A model started from another run keeps the residual weights that run trained.
  if (!resuming_ && t_.init_from.empty()) profile_admin_scales();
  // Every rank from rank 0's weights (its Admin profile included), as DDP starts: the same
  // seed gives the same weights, but a profile's sums may round differently with
  // another thread count.
  if (group_) group_->copy_from_first_rank(parameters_);
  policy_.emplace(t_, task_->checkpoint_metric(), request_.stop_after_updates);
  process_start_ = std::chrono::steady_clock::now();
  elapsed_before_ = state_.elapsed_s;
  interval_.restart(state_.interval_seconds);
  terminal_ = isatty(STDERR_FILENO);
}

Trainer::~Trainer() = default;

// The rendezvous, the other ranks (when this process starts them), and the wait for all.
void Trainer::join_group() {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(t_.collective_timeout * 1000.0));
  group_ = std::make_unique<DataParallelGroup>(request_.launch, runtime_.device, timeout);
  if (first_rank() && request_.start_other_ranks) request_.start_other_ranks(group_->port());
  group_->join();
  auto plan = request_.launch;
  plan.master_port = group_->port();
  log_ << fmt::format("data-parallel: {}, {}\n", plan.describe(), group_->backend()) << std::flush;
}

// The model, fresh from the seed or from checkpoint_last.pt, then its optimizer, and the
// random generator's state when resuming.
void Trainer::prepare_model() {
  model_config_ = task_->model_config(config_.model);
  torch::manual_seed(t_.seed);
  model_ = Transformer(model_config_);
  std::shared_ptr<torch::serialize::InputArchive> resume_archive;
  if (resuming_) {
    auto loaded = load_resume_checkpoint();
    if (model_config_to_json(loaded.model->config()) != model_config_to_json(model_config_))
      throw std::runtime_error(
          fmt::format("{}: its model differs from the config's; resume with the run's own config", last_path()));
    model_ = loaded.model;
    state_ = TrainingState::from_json(loaded.extra);
    resume_archive = loaded.archive;
    if (first_rank()) truncate_metrics_after(folder_.metrics(), state_.update);
    log_ << fmt::format("resuming {} at update {} (epoch {})\n", request_.run_dir, state_.update, state_.epoch + 1);
  } else {
    // Left by a start that never reached a checkpoint.
    if (first_rank() && fs::exists(folder_.metrics())) fs::remove(folder_.metrics());
    if (!t_.init_from.empty()) initialize_from(t_.init_from);
  }
  model_->to(runtime_.device);
  model_->train();
  parameters_ = model_->parameters();
  parameter_total_ = parameter_count(*model_);
  optimizer_ = make_optimizer({t_.optimizer, t_.beta1, t_.beta2, t_.adam_eps, t_.weight_decay}, parameters_);
  if (runtime_.precision == Precision::Fp16) {
    scaler_ = std::make_unique<LossScaler>(runtime_.device);
    if (state_.loss_scale > 0) scaler_->restore(state_.loss_scale, state_.loss_scale_clean_updates);
  }
  if (resume_archive) {
    torch::serialize::InputArchive optimizer_archive;
    resume_archive->read("optimizer", optimizer_archive);
    optimizer_->load(optimizer_archive);
    torch::Tensor random_state;
    resume_archive->read("random_state", random_state, /*is_buffer=*/true);
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(random_state);
  }
}

// train.init_from: the encoder of another run's best checkpoint (else its last).
void Trainer::initialize_from(const std::string& run_dir) {
  const auto path = RunFolder(run_dir).best_or_last_checkpoint();
  if (path.empty()) throw std::runtime_error(fmt::format("train.init_from {}: no checkpoint there", run_dir));
  const auto from = load_checkpoint(path).model;
  try {
    copy_encoder_weights(from, model_);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("train.init_from {}: its encoder differs from this config's: {}", path, e.what()));
  }
  log_ << fmt::format("encoder initialised from {}\n", path);
}

// checkpoint_last.pt, or the one before it when the newest cannot be read (a torn write
// by a file system that lost the flush, a disk that filled).
LoadedCheckpoint Trainer::load_resume_checkpoint() {
  const auto previous = previous_path(last_path());
  try {
    return load_checkpoint(last_path(), runtime_.device);
  } catch (const std::exception& e) {
    if (!fs::exists(previous)) throw;
    log_ << fmt::format("{} cannot be read ({}); resuming from the checkpoint before it, {}\n", last_path(),
                        std::string(e.what()).substr(0, 300), previous);
    return load_checkpoint(previous, runtime_.device);
  }
}

// Admin: profile on the first real training batch, in training mode, before any update.
void Trainer::profile_admin_scales() {
  if (!traits_of(model_config_.residual).profiled) return;
  auto batch = task_->training_batch(batches_for_epoch().front(), state_.epoch);
  auto profile = profile_admin(model_, batch.source, batch.target_input);
  state_.admin_profile = {{"encoder", profile.encoder_scales}, {"decoder", profile.decoder_scales}};
  log_ << "admin profiling on the first training batch:\n";
  if (!profile.encoder_scales.empty()) log_ << "  encoder w: " << format_scales(profile.encoder_scales) << "\n";
  if (!profile.decoder_scales.empty()) log_ << "  decoder w: " << format_scales(profile.decoder_scales) << "\n";
}

RunSummary Trainer::run() {
  while (true) {
    const Decision decision = decide();
    if (decision != Decision::Continue) {
      stop(decision);
      break;
    }
    Step step = compute_gradients();
    if (step.overflowed) {
      skip(step);
      continue;
    }
    if (diverged(step)) {
      record_divergence(step);
      break;
    }
    apply(step);
    log_update(step);
    if (policy_->validation_due(state_.update)) evaluate_on_schedule();
  }
  return finish();
}

// Wall time and dev scores are rank 0's, so rank 0's policy decides for every rank.
Decision Trainer::decide() {
  const bool stop_requested = request_.stop_requested && request_.stop_requested();
  auto decision = policy_->decide(state_, {elapsed(), updates_this_process_, stop_requested});
  if (group_) decision = static_cast<Decision>(group_->value_of_first_rank(static_cast<int64_t>(decision)));
  return decision;
}

// train.update_freq batches, the ranks taking consecutive ones (rank r the r-th), their
// gradients summed over the ranks and divided by the targets, then clipped.
Trainer::Step Trainer::compute_gradients() {
  if (group_) {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_current_seed(rank_dropout_seed(t_.seed, state_.update + 1, request_.launch.rank + 1));
  }
  const auto start = std::chrono::steady_clock::now();
  const auto& epoch_batches = batches_for_epoch();
  const auto epoch_size = static_cast<int64_t>(epoch_batches.size());
  optimizer_->zero_grad();
  Step step;
  for (int64_t part = 0; part < t_.update_freq && state_.batch_in_epoch < epoch_size; ++part) {
    const int64_t index = state_.batch_in_epoch + request_.launch.rank;
    state_.batch_in_epoch = std::min(epoch_size, state_.batch_in_epoch + ranks_);
    if (index >= epoch_size) continue;  // the epoch ends with fewer batches than ranks
    const auto batch = task_->training_batch(epoch_batches[index], state_.epoch);
    LossSums sums;
    {
      const AutocastScope mixed_precision(runtime_);
      sums = task_->loss(model_, batch);
    }
    (scaler_ ? scaler_->scale(sums.loss) : sums.loss).backward();
    step.loss_sum += sums.loss.item<double>();
    step.nll_sum += sums.nll.item<double>();
    step.loss_tokens += sums.tokens;
    step.throughput_tokens += batch.throughput_tokens;
  }
  if (state_.batch_in_epoch >= epoch_size) ++state_.epoch, state_.batch_in_epoch = 0;
  if (group_) sum_over_ranks(step);
  // Gradients were summed over targets; the update uses their mean (the loss scaler
  // divides by the targets as it unscales).
  double divisor = static_cast<double>(step.loss_tokens);
  if (scaler_) {
    step.overflowed = !scaler_->unscale(parameters_, divisor);
    divisor = 1.0;
  }
  step.grad_norm = normalize_and_clip_gradients(
      parameters_, divisor, t_.clip_norm > 0 ? t_.clip_norm : std::numeric_limits<double>::infinity());
  step.loss = step.loss_sum / step.loss_tokens;
  step.seconds = seconds_since(start);
  return step;
}

// One collective for the gradients and the loss sums of every rank.
void Trainer::sum_over_ranks(Step& step) {
  std::vector<torch::Tensor> summed;
  for (auto& p : parameters_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    summed.push_back(p.grad());
  }
  auto totals = torch::tensor({step.loss_sum, step.nll_sum, static_cast<double>(step.loss_tokens),
                               static_cast<double>(step.throughput_tokens)},
                              parameters_.front().options());
  summed.push_back(totals);
  group_->sum(summed);
  const auto values = totals.to(torch::kCPU, torch::kDouble);
  step.loss_sum = values[0].item<double>(), step.nll_sum = values[1].item<double>();
  step.loss_tokens = static_cast<int64_t>(std::llround(values[2].item<double>()));
  step.throughput_tokens = static_cast<int64_t>(std::llround(values[3].item<double>()));
}

bool Trainer::diverged(const Step& step) const {
  return !std::isfinite(step.loss) || !std::isfinite(step.grad_norm) || step.loss > t_.divergence_loss;
}

void Trainer::record_divergence(const Step& step) {
  status_ = RunStatus::Diverged;
  diverged_at_ = state_.update + 1;
  log_ << fmt::format("diverged at update {}: loss {} grad norm {}\n", state_.update + 1, step.loss, step.grad_norm);
  if (first_rank())
    append_metrics(folder_.metrics(), {{"kind", "diverged"}, {"update", state_.update + 1}, {"train_loss", step.loss},
                                   {"grad_norm", step.grad_norm}, {"elapsed_s", elapsed()}});
}

void Trainer::apply(Step& step) {
  const auto start = std::chrono::steady_clock::now();
  step.lr = schedule_.at(state_.update + 1);
  optimizer_->step(step.lr);
  if (scaler_) scaler_->update();
  ++state_.update, ++updates_this_process_;
  state_.train_tokens += step.throughput_tokens;
  state_.train_time_s += step.seconds + seconds_since(start);
  state_.interval_tokens += step.throughput_tokens;
  state_.interval_loss_tokens += step.loss_tokens;
  state_.interval_loss += step.loss_sum, state_.interval_nll += step.nll_sum;
}

// fp16: the batches are spent, the weights and the update count stay, the scale backs off.
void Trainer::skip(const Step& step) {
  scaler_->update();
  ++state_.skipped_updates;
  log_ << fmt::format("update {}: a gradient overflowed in fp16; skipped, loss scale now {}\n", state_.update + 1,
                      scaler_->value());
  state_.train_time_s += step.seconds;
}

// A train line in metrics.jsonl and the log every train.log_every updates; between them a
// progress line on a terminal.
void Trainer::log_update(const Step& step) {
  if (!policy_->log_due(state_.update)) {
    if (terminal_) std::cerr << fmt::format("\rupdate {} loss {:.3f}   ", state_.update, step.loss) << std::flush;
    return;
  }
  const double tokens_per_s = state_.interval_tokens / std::max(interval_.seconds(), 1e-9);
  const double train_loss = state_.interval_loss / state_.interval_loss_tokens;
  const double train_nll = state_.interval_nll / state_.interval_loss_tokens;
  nlohmann::json line = {{"kind", "train"},        {"update", state_.update},  {"epoch", state_.epoch + 1},
                         {"train_loss", train_loss}, {"train_nll", train_nll}, {"lr", step.lr},
                         {"grad_norm", step.grad_norm}, {"tokens_per_s", tokens_per_s}, {"elapsed_s", elapsed()}};
  if (scaler_) line["loss_scale"] = scaler_->value(), line["skipped_updates"] = state_.skipped_updates;
  if (first_rank()) append_metrics(folder_.metrics(), line);
  log_ << fmt::format("train update {:>6} | epoch {:>3} | loss {:.4f} | nll {:.4f} | lr {:.2e} | gnorm {:.3f} | "
                      "{:.0f} tok/s | {:.0f}s\n",
                      state_.update, state_.epoch + 1, train_loss, train_nll, step.lr, step.grad_norm, tokens_per_s,
                      elapsed());
  log_.flush();  // a log redirected to a file is followed with tail -f
  state_.interval_tokens = state_.interval_loss_tokens = 0;
  state_.interval_loss = state_.interval_nll = 0;
  interval_.restart();
}

void Trainer::evaluate_on_schedule() {
  if (terminal_) std::cerr << "\r" << std::flush;
  state_.interval_seconds = interval_.seconds();  // kept by the checkpoint
  if (first_rank()) {
    evaluate_and_checkpoint();
    if (policy_->patience_spent(state_))
      log_ << fmt::format("no dev improvement in {} evaluations: stopping early\n", t_.patience);
  }
  // The evaluation's time is not the log line's training time.
  interval_.restart(state_.interval_seconds);
}

// Dev evaluation, then the best, kept and last checkpoints.
void Trainer::evaluate_and_checkpoint() {
  const auto eval_start = std::chrono::steady_clock::now();
  const Metrics dev = evaluate_dev(*task_, model_, runtime_, t_);
  const bool improved = policy_->record_dev(state_, dev.at(policy_->metric().key).get<double>());
  state_.last_dev = dev;
  state_.elapsed_s = elapsed();
  nlohmann::json line = {{"kind", "dev"}, {"update", state_.update}, {"epoch", state_.epoch + 1},
                         {"elapsed_s", state_.elapsed_s}};
  for (auto& [key, v] : dev.items()) line["dev_" + key] = v;
  append_metrics(folder_.metrics(), line);
  std::string shown;
  for (auto& [key, v] : dev.items())
    shown += v.is_number_float() ? fmt::format(" {} {:.4f}", key, v.get<double>()) : fmt::format(" {} {}", key, v.dump());
  log_ << fmt::format("dev   update {:>6} |{}{}  ({:.1f}s)\n", state_.update, shown, improved ? "  *best*" : "",
                      seconds_since(eval_start))
       << std::flush;
  if (improved) write_checkpoint(folder_.checkpoint(CheckpointChoice::Best), false);
  if (policy_->keeps_checkpoints()) {
    write_checkpoint(folder_.checkpoint_at_update(state_.update), false);
    for (const auto update : policy_->keep_checkpoint(state_)) fs::remove(folder_.checkpoint_at_update(update));
  }
  write_checkpoint(last_path(), true);
}

void Trainer::stop(Decision decision) {
  status_ = decision == Decision::Finish ? RunStatus::Finished : RunStatus::Interrupted;
  if (decision != Decision::Stop) return;
  if (first_rank() && state_.update > 0) {
    state_.elapsed_s = elapsed();
    state_.interval_seconds = interval_.seconds();
    write_checkpoint(last_path(), true);
  }
  log_ << fmt::format("stopped on request at update {}; continue with --resume\n", state_.update) << std::flush;
}

// Rank 0 writes summary.json; the other ranks and an interrupted run return the status
// and update count alone.
RunSummary Trainer::finish() {
  state_.elapsed_s = elapsed();
  if (!first_rank() || status_ == RunStatus::Interrupted) {
    if (!first_rank())
      log_ << fmt::format("rank {}: {} after {} updates\n", request_.launch.rank, to_string(status_), state_.update);
    RunSummary brief;
    brief.status = status_, brief.updates = state_.update;
    return brief;
  }
  if (status_ == RunStatus::Finished && policy_->final_validation_due(state_)) {
    state_.interval_seconds = interval_.seconds();
    evaluate_and_checkpoint();
  }
  auto result = summary();
  const bool tested = task_->has_split(Split::Test) && fs::exists(folder_.checkpoint(CheckpointChoice::Best));
  if (status_ == RunStatus::Finished && tested)
    test_finished_run(folder_, *task_, runtime_, config_, *policy_, state_, result, log_);
  write_run_summary(folder_, result);
  log_ << fmt::format("{}: {} after {} updates, {:.0f}s\n", request_.run_dir, to_string(status_), state_.update,
                      state_.elapsed_s);
  return result;
}

RunSummary Trainer::summary() const {
  RunSummary s;
  s.status = status_;
  s.diverged_at_update = diverged_at_;
  s.updates = state_.update;
  s.epochs = state_.epoch;
  s.parameters = parameter_total_;
  s.architecture = to_string(model_config_.architecture);
  s.residual = to_string(model_config_.residual);
  s.encoder_layers = model_config_.has_encoder() ? model_config_.encoder.layers : 0;
  s.decoder_layers = model_config_.has_decoder() ? model_config_.decoder.layers : 0;
  s.threads = torch::get_num_threads();
  s.processes = ranks_;
  s.device = runtime_.device.str();
  s.precision = to_string(runtime_.precision);
  s.best_dev = {policy_->metric().key, std::isnan(state_.best) ? std::nullopt : std::optional<double>(state_.best),
                state_.best_update};
  s.last_dev = state_.last_dev;
  s.wall_time_s = state_.elapsed_s;
  s.train_time_s = state_.train_time_s;
  s.tokens_per_s = state_.train_time_s > 0 ? state_.train_tokens / state_.train_time_s : 0.0;
  s.peak_rss_mib = peak_resident_mib();
  s.peak_device_memory_mib = peak_device_memory_mib(runtime_);
  s.skipped_updates = state_.skipped_updates;
  s.admin_profile = state_.admin_profile;
  return s;
}

// The one with the training state (checkpoint_last.pt) keeps the one before it.
void Trainer::write_checkpoint(const std::string& path, bool with_training_state) {
  if (scaler_) state_.loss_scale = scaler_->value(), state_.loss_scale_clean_updates = scaler_->clean_updates();
  save_checkpoint(
      model_, path, state_.to_json(),
      [&](torch::serialize::OutputArchive& archive) {
        if (!with_training_state) return;
        torch::serialize::OutputArchive optimizer_archive;
        optimizer_->save(optimizer_archive);
        archive.write("optimizer", optimizer_archive);
        std::lock_guard<std::mutex> lock(generator_.mutex());
        archive.write("random_state", generator_.get_state(), /*is_buffer=*/true);
      },
      /*keep_previous=*/with_training_state);
}

const std::vector<std::vector<int64_t>>& Trainer::batches_for_epoch() {
  if (batches_epoch_ != state_.epoch) {
    batches_ = task_->epoch_batches(state_.epoch);
    batches_epoch_ = state_.epoch;
  }
  return batches_;
}

double Trainer::elapsed() const { return elapsed_before_ + seconds_since(process_start_); }

}  // namespace headcount
