// The run folder: the contract between train/ (writes it), task/ (keeps its vocabularies
// there), and cli/, study/ and analysis/ (read it). Every file name of a run folder is
// spelled here and nowhere else; a run's status is a RunStatus, and summary.json is a
// RunSummary read and written through one to/from-JSON pair.
//
//   config.yaml            the resolved configuration
//   metrics.jsonl          one JSON object per train log line and per dev evaluation
//   summary.json           RunSummary: status, best dev, test metrics, size, time, memory
//   source.vocab, target.vocab, labels.txt, sentencepiece*.model   the task's vocabularies
//   checkpoint_last.pt, checkpoint_best.pt, checkpoint_average.pt, checkpoint_updateN.pt
//   lock                   held by the trainer (util/run_lock.h)
//   train.log, rankR.log   a run's log when a study or the launcher started it
//   failed.txt, killed.txt why a study's run did not end (study/grid_runner.h)
//
// Every file is written to a temporary name, flushed to the disk and renamed into place
// (util/durable_file.h), so an interrupted run, a power loss or a full disk never leaves a
// torn file and never overwrites a finished result with a partial one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace headcount {

// Where a run stands. The trainer writes Finished or Diverged into summary.json (and returns
// Interrupted when stopped on request); a study adds what it knows of the runs it started.
enum class RunStatus {
  Running,      // in the trainer's hands, not yet ended
  Finished,     // a budget or patience ended it
  Diverged,     // a non-finite or too large loss or gradient ended it
  Interrupted,  // stopped on request; checkpoint_last.pt resumes it
  Failed,       // a study's run whose training exited with an error (failed.txt says why)
  Unfinished,   // a study's run that started and has not ended (killed.txt may say why)
  NotStarted,   // a study's run with nothing in its folder yet
  Skipped,      // a study's fine-tuning run whose pretraining run did not finish
};
std::string to_string(RunStatus status);
RunStatus parse_run_status(const std::string& name);  // throws std::invalid_argument naming the value
// Trained to its own end (summary.json written): nothing left to resume.
bool trained_to_end(RunStatus status);

// Which checkpoint a command reads (--checkpoint).
enum class CheckpointChoice { Best, Last, Average };
std::string to_string(CheckpointChoice choice);
CheckpointChoice parse_checkpoint_choice(const std::string& name);  // throws std::invalid_argument

// A sentencepiece model of the run: one for both sides, or one per side.
enum class PieceModel { Joint, Source, Target };

// The paths of one run folder. Cheap to copy; nothing is read or created.
class RunFolder {
 public:
  explicit RunFolder(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  std::string config() const { return file("config.yaml"); }
  std::string metrics() const { return file("metrics.jsonl"); }
  std::string summary() const { return file("summary.json"); }
  std::string checkpoint(CheckpointChoice choice) const;
  std::string checkpoint_at_update(int64_t update) const;  // kept for averaging
  // checkpoint_best.pt, else checkpoint_last.pt, whichever exists first; "" when neither.
  std::string best_or_last_checkpoint() const;
  std::string source_vocabulary() const { return file("source.vocab"); }
  std::string target_vocabulary() const { return file("target.vocab"); }
  std::string labels() const { return file("labels.txt"); }
  // What the sentencepiece trainer is given (it adds ".model"), and the model it writes.
  std::string sentencepiece_prefix(PieceModel which) const;
  std::string sentencepiece_model(PieceModel which) const { return sentencepiece_prefix(which) + ".model"; }
  std::string lock() const { return file("lock"); }
  std::string train_log() const { return file("train.log"); }
  std::string rank_log(int rank) const;
  std::string failed_note() const { return file("failed.txt"); }
  std::string killed_note() const { return file("killed.txt"); }

 private:
  std::string file(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// The best dev score and where it was reached.
struct BestDev {
  std::string metric;           // the checkpoint metric's key ("wer", "bleu", ...)
  std::optional<double> value;  // none before the first dev evaluation
  int64_t update = 0;
};

// summary.json. Objects whose keys depend on the task (dev and test metrics, the Admin
// profile) stay JSON; the rest is typed.
struct RunSummary {
  RunStatus status = RunStatus::Running;
  std::optional<int64_t> diverged_at_update;
  int64_t updates = 0, epochs = 0, parameters = 0;
  std::string architecture, residual;  // as the config spells them
  int64_t encoder_layers = 0, decoder_layers = 0;
  int64_t threads = 1, processes = 1;
  std::string device, precision;
  BestDev best_dev;
  nlohmann::json last_dev;
  double wall_time_s = 0, train_time_s = 0, tokens_per_s = 0, peak_rss_mib = 0, peak_device_memory_mib = 0;
  int64_t skipped_updates = 0;
  nlohmann::json admin_profile;
  nlohmann::json average_dev;  // when checkpoints were averaged
  nlohmann::json test;         // the test metrics, when the run was tested

  nlohmann::json to_json() const;
  // Keys missing from an older or partial summary keep their defaults; a status or a field
  // of the wrong type throws std::runtime_error.
  static RunSummary from_json(const nlohmann::json& json);
};

// summary.json of a run folder: read (throws naming the file) and written durably.
RunSummary read_run_summary(const RunFolder& folder);
void write_run_summary(const RunFolder& folder, const RunSummary& summary);
// The status summary.json records, or none when it is missing or cannot be read.
std::optional<RunStatus> recorded_status(const RunFolder& folder);

// Durable whole-file writes and JSON reads (throws naming the file).
void write_file_atomically(const std::string& path, const std::string& text);
nlohmann::json read_json_file(const std::string& path);
std::string read_text_file(const std::string& path);  // "" when it cannot be read

// metrics.jsonl: appends one line; truncate_after drops lines past an update (resume).
void append_metrics(const std::string& path, const nlohmann::json& line);
void truncate_metrics_after(const std::string& path, int64_t update);
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace headcount
