#include "train/run_folder.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/durable_file.h"

namespace headcount {

void write_file_atomically(const std::string& path, const std::string& text) { write_file_durably(path, text); }

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

void append_metrics(const std::string& path, const nlohmann::json& line) {
  std::ofstream out(path, std::ios::app);
  out << line.dump() << "\n";
  out.close();
  if (!out) {
    const auto full = disk_full_note(std::filesystem::path(path).parent_path().string());
    throw std::runtime_error(fmt::format("{}: cannot append to it{}", path, full.empty() ? "" : " (" + full + ")"));
  }
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error&) {
      // A line cut short by a crash: everything before it is still good.
      break;
    }
  }
  return lines;
}

void truncate_metrics_after(const std::string& path, int64_t update) {
  if (!std::filesystem::exists(path)) return;
  std::string kept;
  for (const auto& line : read_metrics(path))
    if (line.value("update", int64_t{0}) <= update) kept += line.dump() + "\n";
  write_file_atomically(path, kept);
}

}  // namespace headcount
