#include "study/grid_runner.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "run/run_folder.h"
#include "util/process.h"

namespace fs = std::filesystem;

namespace headcount {

bool run_ended(const std::string& run_dir) {
  const auto status = recorded_status(RunFolder(run_dir));
  return status && trained_to_end(*status);
}

namespace {

// The shared queue of the workers; the mutex guards the queue, the count and the log,
// never a training.
class GridQueue {
 public:
  GridQueue(const std::vector<GridRun>& grid, const GridRunnerOptions& options, std::ostream& log)
      : grid_(grid), options_(options), log_(log), order_(training_order(grid)) {}

  bool stopping() const { return options_.stop_requested && options_.stop_requested(); }

  // The next run that has not ended, or none.
  std::optional<size_t> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping()) return std::nullopt;
    for (; next_ < order_.size(); ++next_) {
      const size_t i = order_[next_];
      if (run_ended(run_dir(i)))
        log_ << fmt::format("[{}/{}] {}: finished earlier, skipped\n", i + 1, grid_.size(), grid_[i].name);
      else if (!ready(i))
        log_ << fmt::format("[{}/{}] {}: its pretraining run {} has not finished; not started\n", i + 1, grid_.size(),
                            grid_[i].name, grid_[i].pretrained);
      else
        break;
    }
    if (next_ == order_.size() || (options_.max_runs >= 0 && started_ >= options_.max_runs)) return std::nullopt;
    ++started_;
    return order_[next_++];
  }

  void train(size_t i);

  int64_t started() const { return started_; }

  void say(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_ << text << std::flush;
  }

 private:
  std::string run_dir_of(const std::string& name) const { return (fs::path(options_.out) / "runs" / name).string(); }
  std::string run_dir(size_t i) const { return run_dir_of(grid_[i].name); }
  // A fine-tuning run waits for its pretraining run to finish; after a diverged or failed
  // one it is never started.
  bool ready(size_t i) const {
    const auto& pretrained = grid_[i].pretrained;
    return pretrained.empty() || recorded_status(RunFolder(run_dir_of(pretrained))) == RunStatus::Finished;
  }
  void record(size_t i, int status, const std::string& error);

  const std::vector<GridRun>& grid_;
  const GridRunnerOptions& options_;
  std::ostream& log_;
  const std::vector<size_t> order_;
  std::mutex mutex_;
  size_t next_ = 0;
  int64_t started_ = 0;
};

void GridQueue::train(size_t i) {
  const auto& run = grid_[i];
  const RunFolder folder(run_dir(i));
  const auto config_path = (fs::path(options_.out) / "configs" / (run.name + ".yaml")).string();
  RunConfig config = run.config;
  if (!run.pretrained.empty()) config.train.init_from = run_dir_of(run.pretrained);
  write_file_atomically(config_path, to_yaml(config));
  fs::create_directories(folder.dir());
  fs::remove(folder.failed_note());
  say(fmt::format("[{}/{}] {}: training (log: {})\n", i + 1, grid_.size(), run.name, folder.train_log()));
  const std::vector<std::string> arguments{options_.program, "--threads", std::to_string(options_.threads_per_run),
                                           "train", "--config", config_path, "--out", folder.dir().string(), "--resume"};
  int status = 0;
  bool killed = false;
  std::string error;
  fs::remove(folder.killed_note());
  try {
    status = wait_for_process(start_process(arguments, folder.train_log(), /*hold_stop_signals=*/true),
                              [this] { return stopping(); }, options_.stop_grace_seconds, &killed);
  } catch (const std::exception& e) {
    status = -1, error = e.what();
  }
  if (killed) {
    const auto text = fmt::format("did not stop within {:.0f} s of the stop request's SIGTERM: killed; its last checkpoint "
                                  "resumes it\n",
                                  options_.stop_grace_seconds);
    write_file_atomically(folder.killed_note(), text);
    say(fmt::format("    {}: {}", run.name, text));
    return;
  }
  record(i, status, error);
}

void GridQueue::record(size_t i, int status, const std::string& error) {
  const auto& run = grid_[i];
  const RunFolder folder(run_dir(i));
  // 130 and 143: train stopped on SIGINT or SIGTERM (checkpoint saved), whoever sent it.
  const bool stopped = error.empty() && (stopping() || status == 130 || status == 143);
  std::lock_guard<std::mutex> lock(mutex_);
  const bool ended = run_ended(folder.dir().string());
  if (!ended && stopped) {
    log_ << fmt::format("    {}: stopped; the same command resumes it from its checkpoint\n", run.name) << std::flush;
  } else if (status != 0 || !ended) {
    std::ofstream(folder.failed_note())
        << (error.empty() ? fmt::format("training exited with status {}; see train.log\n", status) : error + "\n");
    log_ << fmt::format("    {} failed (status {}); the grid goes on\n", run.name, status);
  } else {
    const auto summary = read_run_summary(folder);
    log_ << fmt::format("    {}: {} after {} updates\n", run.name, to_string(summary.status), summary.updates) << std::flush;
  }
}

}  // namespace

int64_t train_grid(const std::vector<GridRun>& grid, const GridRunnerOptions& options, std::ostream& log) {
  GridQueue queue(grid, options, log);
  auto worker = [&] {
    while (const auto i = queue.take()) {
      try {
        queue.train(*i);
      } catch (const std::exception& e) {  // the run folder could not be written: the grid goes on
        queue.say(fmt::format("    {} failed: {}\n", grid[*i].name, e.what()));
      }
    }
  };
  std::vector<std::thread> workers;
  for (int j = 0; j < options.jobs; ++j) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  return queue.started();
}

}  // namespace headcount
