#include "util/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace headcount {

namespace {
// environ with the extra entries, which replace those of the same name.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || x.rfind(name, 0) == 0;
    if (!replaced) entries.push_back(entry);
  }
  entries.insert(entries.end(), extra.begin(), extra.end());
  return entries;
}
}  // namespace

pid_t start_process(const std::vector<std::string>& arguments, const std::string& log_path, bool hold_stop_signals,
                    const std::vector<std::string>& extra_environment) {
  if (arguments.empty()) throw std::invalid_argument("start_process: no program given");
  std::vector<char*> argv;
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto environment = child_environment(extra_environment);
  std::vector<char*> envp;
  for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (hold_stop_signals) {
    sigset_t held;
    pthread_sigmask(SIG_BLOCK, nullptr, &held);  // this thread's mask, plus the two
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGHUP);
    posix_spawnattr_setsigmask(&attributes, &held);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  }
  pid_t pid = 0;
  const int error = posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("could not start " + arguments[0] + ": " + std::strerror(error));
  return pid;
}

int wait_for_process(pid_t pid, const std::function<bool()>& stop_requested, double grace_seconds, bool* killed) {
  bool passed_on = false;
  std::chrono::steady_clock::time_point passed_at;
  if (killed) *killed = false;
  while (true) {
    int status = 0;
    // Without a stop to pass on, block; with one, poll so the request is seen while waiting.
    const pid_t ended = waitpid(pid, &status, stop_requested ? WNOHANG : 0);
    if (ended == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      continue;  // stopped or continued: still running
    }
    if (ended < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("waiting for a child process: ") + std::strerror(errno));
    }
    if (!passed_on && stop_requested()) {
      kill(pid, SIGTERM);
      passed_on = true;
      passed_at = std::chrono::steady_clock::now();
    } else if (passed_on && grace_seconds > 0 && (!killed || !*killed) &&
               std::chrono::steady_clock::now() - passed_at > std::chrono::duration<double>(grace_seconds)) {
      kill(pid, SIGKILL);  // it did not stop within its grace period
      if (killed) *killed = true;
      grace_seconds = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace headcount
