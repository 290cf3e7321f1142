#include "util/durable_file.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace headcount {

std::string previous_path(const std::string& path) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + ".previous" + p.extension().string())).string();
}

std::string disk_full_note(const std::string& folder) {
  struct statvfs s {};
  if (statvfs(folder.empty() ? "." : folder.c_str(), &s) == 0 && s.f_bavail * s.f_frsize < (1u << 20))
    return "the disk holding " + folder + " is full";
  return "";
}

void sync_path(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open to flush it: " + std::strerror(errno));
  const int result = fsync(fd);
  const int error = errno;
  close(fd);
  // A folder on a file system that does not sync folders (EINVAL) still had its entry written.
  if (result != 0 && error != EINVAL) throw std::runtime_error(path + ": cannot flush it to the disk: " + std::strerror(error));
}

static std::string folder_of(const std::string& path) {
  const auto parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

void commit_file(const std::string& temporary, const std::string& path, bool keep_previous) {
  sync_path(temporary);
  if (keep_previous && fs::exists(path)) fs::rename(path, previous_path(path));
  fs::rename(temporary, path);
  sync_path(folder_of(path));
}

void write_durably(const std::string& path, const std::function<void(const ByteSink&)>& produce, bool keep_previous) {
  const std::string temporary = path + ".partial";
  FILE* file = std::fopen(temporary.c_str(), "wb");
  int error = file ? 0 : errno;
  const ByteSink sink = [&](const void* data, size_t size) {
    if (!error && std::fwrite(data, 1, size, file) != size) error = errno ? errno : EIO;
    return size;
  };
  try {
    if (file) produce(sink);
  } catch (...) {
    if (file) std::fclose(file);
    std::remove(temporary.c_str());
    throw;
  }
  if (file && std::fclose(file) != 0 && !error) error = errno ? errno : EIO;
  if (error) {
    std::remove(temporary.c_str());
    const auto full = disk_full_note(folder_of(path));
    throw std::runtime_error(path + ": cannot write it (" + (full.empty() ? std::strerror(error) : full) +
                             "); the file that was there is unchanged");
  }
  commit_file(temporary, path, keep_previous);
}

void write_file_durably(const std::string& path, const std::string& text) {
  write_durably(path, [&](const ByteSink& sink) { sink(text.data(), text.size()); });
}

}  // namespace headcount
