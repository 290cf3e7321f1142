#include "study/reference_step.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/process.h"

namespace headcount {
namespace {

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last line holding "params=N step_ms=X tokens_per_s=Y"; false when there is none.
bool parse_reference_line(const std::string& output, ReferenceTiming& timing) {
  std::istringstream lines(output);
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    ReferenceTiming t;
    if (std::sscanf(line.c_str(), "params=%" SCNd64 " step_ms=%lf tokens_per_s=%lf", &t.parameters, &t.step_ms,
                    &t.tokens_per_s) == 3)
      timing = t, found = true;
  }
  return found;
}

std::string last_lines(const std::string& text, size_t count) {
  size_t start = text.size();
  for (size_t seen = 0; start > 0 && seen <= count;) {
    --start;
    if (text[start] == '\n') ++seen;
  }
  return text.substr(start);
}

}  // namespace

std::string find_reference_script(const std::string& program_path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const auto program = fs::canonical(program_path.empty() ? "/proc/self/exe" : program_path, error);
  for (const auto& candidate : {program.parent_path().parent_path() / "bench" / "reference_step.py",
                                fs::current_path(error) / "bench" / "reference_step.py"})
    if (!error && fs::exists(candidate, error)) return candidate.string();
  return "";
}

ReferenceTiming run_reference_step(const StepShape& s, int threads, const Runtime& runtime, const std::string& python,
                                   const std::string& script) {
  const auto log = std::filesystem::temp_directory_path() / fmt::format("headcount-reference-{}.log", getpid());
  std::filesystem::remove(log);
  const std::vector<std::string> arguments{
      python, script, std::to_string(s.encoder_layers), std::to_string(s.decoder_layers), std::to_string(s.heads),
      std::to_string(s.d_model), std::to_string(s.head_dim), std::to_string(s.ffn_dim), std::to_string(s.batch),
      std::to_string(s.source_length), std::to_string(s.target_length), std::to_string(s.steps),
      std::to_string(threads), runtime.device.str(), to_string(runtime.precision)};
  const int status = wait_for_process(start_process(arguments, log.string()));
  const auto output = read_whole_file(log);
  std::filesystem::remove(log);
  ReferenceTiming timing;
  if (status != 0 || !parse_reference_line(output, timing))
    throw std::runtime_error(fmt::format(
        "the PyTorch-eager reference ({} {}) failed (exit status {}); its output ends:\n{}\n(--python names a "
        "Python with PyTorch, e.g. Debian's: /usr/bin/python3 with python3-torch installed)",
        python, script, status, last_lines(output, 8)));
  return timing;
}

}  // namespace headcount
