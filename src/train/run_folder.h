// The files of a run folder and how they are written. Every file is written to a
// temporary name, flushed to the disk and renamed into place (util/durable_file.h), so an
// interrupted run, a power loss or a full disk never leaves a torn file and never
// overwrites a finished result with a partial one.
//   config.yaml         the resolved configuration
//   metrics.jsonl       one JSON object per train log line and per dev evaluation
//   summary.json        status, best dev, test metrics, size, time, memory
//   source.vocab, target.vocab (and sentencepiece models)
//   checkpoint_last.pt, checkpoint_best.pt (and checkpoint_average.pt)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace headcount {

void write_file_atomically(const std::string& path, const std::string& text);
nlohmann::json read_json_file(const std::string& path);  // throws naming the file

// metrics.jsonl: appends one line; truncate_after drops lines past an update (resume).
void append_metrics(const std::string& path, const nlohmann::json& line);
void truncate_metrics_after(const std::string& path, int64_t update);
std::vector<nlohmann::json> read_metrics(const std::string& path);

}  // namespace headcount
