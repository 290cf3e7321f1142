#include "train/trainer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>

#include "data/batching.h"
#include "data/task_data.h"
#include "eval/evaluate.h"
#include "model/admin_profile.h"
#include "model/checkpoint.h"
#include "model/transformer.h"
#include "train/data_parallel.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/run_folder.h"
#include "train/schedule.h"

namespace fs = std::filesystem;

namespace headcount {

namespace {

// What, besides weights and optimizer moments, a resumed run must get back.
struct TrainState {
  int64_t update = 0;
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;
  double best = std::numeric_limits<double>::quiet_NaN();
  int64_t best_update = 0;
  int64_t evaluations_without_improvement = 0;
  double elapsed_s = 0;       // wall time of all processes so far
  double train_time_s = 0;    // time spent in updates (no evaluation)
  int64_t train_tokens = 0;   // target tokens trained on
  nlohmann::json last_dev;
  nlohmann::json admin_profile;
  std::vector<int64_t> kept_updates;  // checkpoint_update{N}.pt kept for averaging
  int64_t evaluated_update = 0;       // the update of the last dev evaluation
  // The train log line being gathered over log_every updates, so that a run resumed from a
  // checkpoint between two lines writes the same lines as an uninterrupted one.
  int64_t interval_tokens = 0;
  double interval_loss = 0, interval_nll = 0, interval_seconds = 0;

  nlohmann::json to_json() const {
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
            {"interval", {{"tokens", interval_tokens}, {"loss", interval_loss}, {"nll", interval_nll},
                          {"seconds", interval_seconds}}}};
  }
  static TrainState from_json(const nlohmann::json& j) {
    TrainState s;
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
    if (j.contains("interval")) {
      const auto& interval = j.at("interval");
      s.interval_tokens = interval.at("tokens");
      s.interval_loss = interval.at("loss");
      s.interval_nll = interval.at("nll");
      s.interval_seconds = interval.at("seconds");
    }
    return s;
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_scales(const std::vector<double>& scales) {
  std::string out;
  for (double w : scales) out += fmt::format("{}{:.3f}", out.empty() ? "" : " ", w);
  return out;
}

}  // namespace

nlohmann::json train(const TrainRequest& request, std::ostream& log) {
  const RunConfig& config = request.config;
  const TrainConfig& t = config.train;
  const fs::path dir(request.run_dir);
  const std::string last_path = (dir / "checkpoint_last.pt").string();
  const std::string best_path = (dir / "checkpoint_best.pt").string();
  const std::string metrics_path = (dir / "metrics.jsonl").string();
  const bool resuming = request.resume && fs::exists(last_path);
  if (fs::exists(last_path) && !request.resume)
    throw std::runtime_error(fmt::format(
        "{} holds a checkpoint of an earlier run; pass --resume to continue it, or choose another --out", dir.string()));
  const int ranks = static_cast<int>(t.processes);
  const bool first_rank = request.rank == 0;
  if (first_rank) {
    fs::create_directories(dir);
    write_file_atomically((dir / "config.yaml").string(), to_yaml(config));
  }

  const auto data = load_task_data(config.data, dir.string(), /*create=*/first_rank);
  std::unique_ptr<DataParallelGroup> group;
  if (ranks > 1) {
    if (first_rank && request.start_other_ranks) request.start_other_ranks();
    // An hour: the other ranks wait inside a collective while rank 0 evaluates on dev.
    group = std::make_unique<DataParallelGroup>(request.rendezvous_file, request.rank, ranks, std::chrono::hours(1));
    log << fmt::format("data-parallel: rank {} of {}\n", request.rank, ranks);
  }
  std::vector<Example> train_examples;
  for (auto& e : data.encode(data.text.train))
    if (static_cast<int64_t>(std::max(e.source.size(), e.target.size())) <= config.data.max_length)
      train_examples.push_back(std::move(e));
  const auto valid_examples = data.encode(data.text.valid);
  if (train_examples.empty()) throw std::runtime_error("no training example is within data.max_length");

  ModelConfig model_config = config.model;
  model_config.source_vocab_size = data.source_vocabulary.size();
  model_config.target_vocab_size = data.target_vocabulary.size();
  torch::manual_seed(t.seed);
  Transformer model(model_config);
  TrainState state;
  std::shared_ptr<torch::serialize::InputArchive> resume_archive;
  if (resuming) {
    auto loaded = load_checkpoint(last_path);
    if (model_config_to_json(loaded.model->config()) != model_config_to_json(model_config))
      throw std::runtime_error(fmt::format("{}: its model differs from the config's; resume with the run's own config",
                                           last_path));
    model = loaded.model;
    state = TrainState::from_json(loaded.extra);
    resume_archive = loaded.archive;
    if (first_rank) truncate_metrics_after(metrics_path, state.update);
    log << fmt::format("resuming {} at update {} (epoch {})\n", dir.string(), state.update, state.epoch + 1);
  } else if (first_rank && fs::exists(metrics_path)) {
    fs::remove(metrics_path);  // left by a start that never reached a checkpoint
  }
  model->train();

  OptimizerOptions optimizer_options{t.optimizer, t.beta1, t.beta2, t.adam_eps, t.weight_decay};
  auto parameters = model->parameters();
  auto optimizer = make_optimizer(optimizer_options, parameters);
  auto generator = at::detail::getDefaultCPUGenerator();
  if (resume_archive) {
    torch::serialize::InputArchive optimizer_archive;
    resume_archive->read("optimizer", optimizer_archive);
    optimizer->load(optimizer_archive);
    torch::Tensor random_state;
    resume_archive->read("random_state", random_state, /*is_buffer=*/true);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(random_state);
  }
  const InverseSqrtSchedule schedule{t.lr, t.warmup_init_lr, t.warmup_updates, t.max_updates, t.decay_updates};
  const int64_t parameter_total = parameter_count(*model);
  log << fmt::format("model: {} {}, {} encoder / {} decoder layers, {} parameters; {} threads\n",
                     to_string(model_config.architecture), to_string(model_config.residual),
                     model_config.has_encoder() ? model_config.encoder.layers : 0,
                     model_config.has_decoder() ? model_config.decoder.layers : 0, parameter_total,
                     torch::get_num_threads());
  log << fmt::format("data: {} train / {} valid / {} test examples; vocabularies {} / {}\n", train_examples.size(),
                     valid_examples.size(), data.text.test.size(), data.source_vocabulary.size(),
                     data.target_vocabulary.size());

  std::vector<std::vector<int64_t>> batches;
  int64_t batches_epoch = -1;
  auto batches_for_epoch = [&]() -> const std::vector<std::vector<int64_t>>& {
    if (batches_epoch != state.epoch) {
      batches = token_budget_batches(train_examples, config.data.max_tokens, t.seed * 1000003 + state.epoch);
      batches_epoch = state.epoch;
    }
    return batches;
  };

  if (!resuming && model_config.residual == ResidualScheme::Admin) {
    // Profile on the first real training batch, in training mode, before any update.
    auto batch = make_batch(train_examples, batches_for_epoch().front());
    auto profile = profile_admin(model, batch.source, batch.target_input);
    state.admin_profile = {{"encoder", profile.encoder_scales}, {"decoder", profile.decoder_scales}};
    log << "admin profiling on the first training batch:\n";
    if (!profile.encoder_scales.empty()) log << "  encoder w: " << format_scales(profile.encoder_scales) << "\n";
    if (!profile.decoder_scales.empty()) log << "  decoder w: " << format_scales(profile.decoder_scales) << "\n";
  }

  const std::string metric = t.valid_decode_limit != 0 ? primary_metric(data) : "loss";
  const DecodeOptions dev_decoding{1, config.eval.length_penalty, config.eval.max_length_a, config.eval.max_length_b};
  auto write_checkpoint = [&](const std::string& path, bool with_training_state) {
    save_checkpoint(model, path, state.to_json(), [&](torch::serialize::OutputArchive& archive) {
      if (!with_training_state) return;
      torch::serialize::OutputArchive optimizer_archive;
      optimizer->save(optimizer_archive);
      archive.write("optimizer", optimizer_archive);
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("random_state", generator.get_state(), /*is_buffer=*/true);
    });
  };

  const auto process_start = std::chrono::steady_clock::now();
  const double elapsed_before = state.elapsed_s;
  auto elapsed = [&] { return elapsed_before + seconds_since(process_start); };

  auto evaluate_dev = [&](Transformer& evaluated) {
    nlohmann::json dev = evaluate_loss(evaluated, valid_examples, config.data.max_tokens, t.label_smoothing);
    if (metric != "loss")
      dev.update(evaluate_decoding(evaluated, data, data.text.valid, dev_decoding, config.eval.max_tokens,
                                   t.valid_decode_limit));
    return dev;
  };
  auto better = [&](double value, double than) {
    return std::isnan(than) || (lower_is_better(metric) ? value < than : value > than);
  };

  // Dev evaluation, best/last/kept checkpoints. Returns false when patience ran out.
  auto evaluate_and_save = [&]() -> bool {
    const auto eval_start = std::chrono::steady_clock::now();
    state.evaluated_update = state.update;
    nlohmann::json dev = evaluate_dev(model);
    const double value = dev.at(metric).get<double>();
    const bool improved = better(value, state.best);
    if (improved) {
      state.best = value, state.best_update = state.update, state.evaluations_without_improvement = 0;
    } else {
      ++state.evaluations_without_improvement;
    }
    state.last_dev = dev;
    state.elapsed_s = elapsed();
    nlohmann::json line = {{"kind", "dev"}, {"update", state.update}, {"epoch", state.epoch + 1},
                           {"elapsed_s", state.elapsed_s}};
    for (auto& [key, v] : dev.items()) line["dev_" + key] = v;
    append_metrics(metrics_path, line);
    std::string shown;
    for (auto& [key, v] : dev.items())
      shown += v.is_number_float() ? fmt::format(" {} {:.4f}", key, v.get<double>()) : fmt::format(" {} {}", key, v.dump());
    log << fmt::format("dev   update {:>6} |{}{}  ({:.1f}s)\n", state.update, shown, improved ? "  *best*" : "",
                       seconds_since(eval_start))
        << std::flush;
    if (improved) write_checkpoint(best_path, false);
    if (t.average_last > 0) {
      write_checkpoint((dir / fmt::format("checkpoint_update{}.pt", state.update)).string(), false);
      state.kept_updates.push_back(state.update);
      while (static_cast<int64_t>(state.kept_updates.size()) > t.average_last) {
        fs::remove(dir / fmt::format("checkpoint_update{}.pt", state.kept_updates.front()));
        state.kept_updates.erase(state.kept_updates.begin());
      }
    }
    write_checkpoint(last_path, true);
    return !(t.patience > 0 && state.evaluations_without_improvement >= t.patience);
  };

  std::string status = "running";
  nlohmann::json diverged_at;
  int64_t updates_this_process = 0;
  // The log line's training time: what it had gathered before the last pause (a dev
  // evaluation, or the stop of an earlier process) plus the time since.
  double interval_seconds_before = state.interval_seconds;
  auto interval_start = std::chrono::steady_clock::now();
  auto interval_seconds = [&] { return interval_seconds_before + seconds_since(interval_start); };
  const bool terminal = isatty(STDERR_FILENO);

  bool patience_ran_out = false;  // rank 0 decides for all ranks
  // kInterrupt stands for a process killed between checkpoints (tests); kStop for a stop
  // asked of it, which saves the current update first.
  enum Decision : int64_t { kContinue = 0, kFinish = 1, kInterrupt = 2, kStop = 3 };
  while (true) {
    int64_t decision = kContinue;
    if ((t.max_updates > 0 && state.update >= t.max_updates) || (t.max_epochs > 0 && state.epoch >= t.max_epochs) ||
        (t.max_minutes > 0 && elapsed() >= t.max_minutes * 60.0) || patience_ran_out)
      decision = kFinish;
    else if (request.stop_after_updates > 0 && updates_this_process >= request.stop_after_updates)
      decision = kInterrupt;
    else if (request.stop_requested && request.stop_requested())
      decision = kStop;
    if (group) decision = group->value_of_first_rank(decision);  // wall time and dev are rank 0's
    if (decision != kContinue) {
      status = decision == kFinish ? "finished" : "interrupted";
      if (decision == kStop) {
        if (first_rank && state.update > 0) {
          state.elapsed_s = elapsed();
          state.interval_seconds = interval_seconds();
          write_checkpoint(last_path, true);
        }
        log << fmt::format("stopped on request at update {}; continue with --resume\n", state.update) << std::flush;
      }
      break;
    }
    if (group) {
      // Each rank its own dropout masks, and a resumed run the same ones as before.
      const uint64_t seed = static_cast<uint64_t>(t.seed) * 0x9E3779B97F4A7C15ull ^
                            static_cast<uint64_t>(state.update + 1) * 0xBF58476D1CE4E5B9ull ^
                            static_cast<uint64_t>(request.rank + 1) * 0x94D049BB133111EBull;
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_current_seed(seed);
    }
    const auto update_start = std::chrono::steady_clock::now();
    const auto& epoch_batches = batches_for_epoch();
    const auto epoch_size = static_cast<int64_t>(epoch_batches.size());
    optimizer->zero_grad();
    double loss_sum = 0, nll_sum = 0;
    int64_t tokens = 0;
    // Each part, the ranks take consecutive batches: rank r the r-th.
    for (int64_t part = 0; part < t.update_freq && state.batch_in_epoch < epoch_size; ++part) {
      const int64_t index = state.batch_in_epoch + request.rank;
      state.batch_in_epoch = std::min(epoch_size, state.batch_in_epoch + ranks);
      if (index >= epoch_size) continue;  // the epoch ends with fewer batches than ranks
      auto batch = make_batch(train_examples, epoch_batches[index]);
      auto memory = model->encoder ? model->encode(batch.source) : torch::Tensor();
      auto logits = model->logits(model->decode(batch.target_input, memory, batch.source));
      auto sums = label_smoothed_cross_entropy(logits, batch.target_output, t.label_smoothing);
      sums.loss.backward();
      loss_sum += sums.loss.item<double>();
      nll_sum += sums.nll.item<double>();
      tokens += sums.tokens;
    }
    if (state.batch_in_epoch >= epoch_size) ++state.epoch, state.batch_in_epoch = 0;
    if (group) {
      // One collective for the gradients and the loss sums of every rank.
      std::vector<torch::Tensor> summed;
      for (auto& p : parameters) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        summed.push_back(p.grad());
      }
      auto totals = torch::tensor({loss_sum, nll_sum, static_cast<double>(tokens)}, parameters.front().options());
      summed.push_back(totals);
      group->sum(summed);
      loss_sum = totals[0].item<double>(), nll_sum = totals[1].item<double>();
      tokens = static_cast<int64_t>(std::llround(totals[2].item<double>()));
    }
    // Gradients were summed over tokens; the update uses their mean.
    for (auto& p : parameters)
      if (p.grad().defined()) p.mutable_grad().div_(static_cast<double>(tokens));
    const double grad_norm = torch::nn::utils::clip_grad_norm_(
        parameters, t.clip_norm > 0 ? t.clip_norm : std::numeric_limits<double>::infinity());
    const double loss = loss_sum / tokens;
    if (!std::isfinite(loss) || !std::isfinite(grad_norm) || loss > t.divergence_loss) {
      status = "diverged";
      diverged_at = state.update + 1;
      log << fmt::format("diverged at update {}: loss {} grad norm {}\n", state.update + 1, loss, grad_norm);
      if (first_rank)
        append_metrics(metrics_path, {{"kind", "diverged"}, {"update", state.update + 1}, {"train_loss", loss},
                                    {"grad_norm", grad_norm}, {"elapsed_s", elapsed()}});
      break;
    }
    const double lr = schedule.at(state.update + 1);
    optimizer->step(lr);
    ++state.update, ++updates_this_process;
    state.train_tokens += tokens;
    state.train_time_s += seconds_since(update_start);
    state.interval_tokens += tokens;
    state.interval_loss += loss_sum, state.interval_nll += nll_sum;

    if (state.update % t.log_every == 0) {
      const double tokens_per_s = state.interval_tokens / std::max(interval_seconds(), 1e-9);
      nlohmann::json line = {{"kind", "train"},
                             {"update", state.update},
                             {"epoch", state.epoch + 1},
                             {"train_loss", state.interval_loss / state.interval_tokens},
                             {"train_nll", state.interval_nll / state.interval_tokens},
                             {"lr", lr},
                             {"grad_norm", grad_norm},
                             {"tokens_per_s", tokens_per_s},
                             {"elapsed_s", elapsed()}};
      if (first_rank) append_metrics(metrics_path, line);
      log << fmt::format("train update {:>6} | epoch {:>3} | loss {:.4f} | nll {:.4f} | lr {:.2e} | gnorm {:.3f} | "
                         "{:.0f} tok/s | {:.0f}s\n",
                         state.update, state.epoch + 1, line["train_loss"].get<double>(),
                         line["train_nll"].get<double>(), lr, grad_norm, tokens_per_s, elapsed());
      log.flush();  // a log redirected to a file is followed with tail -f
      state.interval_tokens = 0, state.interval_loss = state.interval_nll = 0;
      interval_seconds_before = 0;
      interval_start = std::chrono::steady_clock::now();
    } else if (terminal) {
      std::cerr << fmt::format("\rupdate {} loss {:.3f}   ", state.update, loss) << std::flush;
    }
    if (state.update % t.valid_every == 0) {
      if (terminal) std::cerr << "\r" << std::flush;
      state.interval_seconds = interval_seconds();  // kept by the checkpoint
      if (first_rank && !evaluate_and_save()) {
        log << fmt::format("no dev improvement in {} evaluations: stopping early\n", t.patience);
        patience_ran_out = true;
      }
      // The evaluation's time is not the log line's training time.
      interval_seconds_before = state.interval_seconds;
      interval_start = std::chrono::steady_clock::now();
    }
  }

  state.elapsed_s = elapsed();
  if (!first_rank) {
    log << fmt::format("rank {}: {} after {} updates\n", request.rank, status, state.update);
    return {{"status", status}, {"updates", state.update}, {"rank", request.rank}};
  }
  if (status == "interrupted") return {{"status", "interrupted"}, {"updates", state.update}};
  if (status == "finished" && state.evaluated_update != state.update && state.update > 0) {
    state.interval_seconds = interval_seconds();
    evaluate_and_save();
  }

  nlohmann::json summary = {{"status", status},
                            {"diverged_at_update", diverged_at},
                            {"updates", state.update},
                            {"epochs", state.epoch},
                            {"parameters", parameter_total},
                            {"architecture", to_string(model_config.architecture)},
                            {"residual", to_string(model_config.residual)},
                            {"encoder_layers", model_config.has_encoder() ? model_config.encoder.layers : 0},
                            {"decoder_layers", model_config.has_decoder() ? model_config.decoder.layers : 0},
                            {"threads", torch::get_num_threads()},
                            {"processes", ranks},
                            {"best_dev", {{"metric", metric}, {"value", std::isnan(state.best) ? nlohmann::json() : nlohmann::json(state.best)}, {"update", state.best_update}}},
                            {"last_dev", state.last_dev},
                            {"wall_time_s", state.elapsed_s},
                            {"train_time_s", state.train_time_s},
                            {"tokens_per_s", state.train_time_s > 0 ? state.train_tokens / state.train_time_s : 0.0},
                            {"peak_rss_mib", peak_resident_mib()},
                            {"admin_profile", state.admin_profile}};

  if (status == "finished" && data.text.test.size() > 0 && fs::exists(best_path)) {
    std::string chosen = best_path;
    if (t.average_last > 0 && !state.kept_updates.empty()) {
      std::vector<std::string> paths;
      for (auto u : state.kept_updates) paths.push_back((dir / fmt::format("checkpoint_update{}.pt", u)).string());
      const auto average_path = (dir / "checkpoint_average.pt").string();
      average_checkpoints(paths, average_path);
      // Averaging helps near convergence and hurts while the model still moves fast, so the
      // dev set decides between the average and the best single checkpoint.
      auto average_model = load_checkpoint(average_path).model;
      const double average_value = evaluate_dev(average_model).at(metric).get<double>();
      const bool average_wins = !better(state.best, average_value);
      if (average_wins) chosen = average_path;
      summary["average_dev"] = {{"metric", metric}, {"value", average_value}, {"updates", state.kept_updates}};
      log << fmt::format("averaged the checkpoints of updates {}: dev {} {:.4f} against the best {:.4f}; testing the {}\n",
                         nlohmann::json(state.kept_updates).dump(), metric, average_value, state.best,
                         average_wins ? "average" : "best checkpoint");
    }
    auto test_model = load_checkpoint(chosen).model;
    const auto test_start = std::chrono::steady_clock::now();
    nlohmann::json test = evaluate_loss(test_model, data.encode(data.text.test), config.data.max_tokens, t.label_smoothing);
    const DecodeOptions test_decoding{config.eval.beam, config.eval.length_penalty, config.eval.max_length_a,
                                      config.eval.max_length_b};
    test.update(evaluate_decoding(test_model, data, data.text.test, test_decoding, config.eval.max_tokens, 0));
    test["checkpoint"] = fs::path(chosen).filename().string();
    test["beam"] = config.eval.beam;
    summary["test"] = test;
    log << fmt::format("test  ({}, beam {}): {}  ({:.1f}s)\n", test["checkpoint"].get<std::string>(), config.eval.beam,
                       test.dump(), seconds_since(test_start));
  }
  write_file_atomically((dir / "summary.json").string(), summary.dump(2) + "\n");
  log << fmt::format("{}: {} after {} updates, {:.0f}s\n", dir.string(), status, state.update, state.elapsed_s);
  return summary;
}

}  // namespace headcount
