#include "util/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace headcount {

RunLock::RunLock(const std::string& path) {
  const std::string run_dir = std::filesystem::path(path).parent_path().string();
  std::filesystem::create_directories(run_dir);
  // Close-on-exec: the other ranks this process starts must not hold the lock with it.
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open the run folder's lock: " + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[256] = {};
    const ssize_t n = pread(fd_, holder, sizeof holder - 1, 0);
    std::string who = n > 0 ? std::string(holder, n) : std::string("another process");
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    close(fd_);
    throw std::runtime_error(run_dir + " is being trained by " + who + " (it holds " + path +
                             "); wait for it to end or stop it, or choose another --out");
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string text = "process " + std::to_string(getpid()) + " on " + host + "\n";
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, text.data(), text.size(), 0) < 0) {
    // The lock holds even when its note cannot be written.
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) close(fd_);  // closing drops the lock; the file stays for the next trainer
}

}  // namespace headcount
