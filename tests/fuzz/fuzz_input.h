// What every fuzz target shares: the readers under test take a file's path, so each input
// is written to a file of the fuzzing process's own (under /dev/shm when it exists, so
// the disk is not worn), and an exception the reader throws is its answer to bad input,
// not a failure. A crash, a sanitizer report, a hang or running out of memory is.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace headcount::fuzz {

inline std::string input_path(const std::string& suffix) {
  const std::filesystem::path folder = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  return (folder / ("headcount-fuzz-" + std::to_string(getpid()) + suffix)).string();
}

// Writes data to path and returns path.
inline const std::string& write_input(const std::string& path, const uint8_t* data, size_t size) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) std::abort();  // the fuzzer's own folder must be writable
  if (size && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  return path;
}

}  // namespace headcount::fuzz
