#include "data/parallel_text.h"

#include <fmt/format.h>
#include <zlib.h>

#include <stdexcept>

#include "util/text.h"

namespace headcount {

const ParallelText& ParallelSplits::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "valid" || name == "dev") return valid;
  if (name == "test") return test;
  throw std::invalid_argument(fmt::format("unknown split '{}': expected train, valid or test", name));
}

std::vector<std::string> read_lines(const std::string& path) {
  // gzopen reads plain files unchanged, so one path serves both.
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error(fmt::format("{}: cannot open", path));
  std::vector<std::string> lines;
  std::string current;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) {
    for (int i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        if (!current.empty() && current.back() == '\r') current.pop_back();
        lines.push_back(std::move(current));
        current.clear();
      } else {
        current += buffer[i];
      }
    }
  }
  int error = 0;
  const char* message = gzerror(file, &error);
  gzclose(file);
  if (n < 0 || (error != Z_OK && error != Z_STREAM_END))
    throw std::runtime_error(fmt::format("{}: read error ({})", path, message));
  if (!current.empty()) lines.push_back(std::move(current));
  for (size_t i = 0; i < lines.size(); ++i) check_utf8(lines[i], fmt::format("{}:{}", path, i + 1));
  return lines;
}

}  // namespace headcount
