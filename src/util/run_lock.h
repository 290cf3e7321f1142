// One trainer per run folder: the process training in a folder holds an advisory lock on
// its `lock` file (flock) for as long as it runs, with its pid and host written in it. A
// second `train` on the folder is refused with a message naming the holder. The kernel
// drops the lock when the holder dies, however it dies, so a stale lock file never blocks
// a resume.
#pragma once

#include <string>

namespace headcount {

class RunLock {
 public:
  // Creates the lock file's folder if needed and takes the lock; throws std::runtime_error
  // naming the holder (pid, host) when another process has it.
  explicit RunLock(const std::string& path);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace headcount
