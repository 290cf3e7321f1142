// Child processes: `compare` trains each run in a process of its own and `train` starts
// the other ranks of a data-parallel run. posix_spawn with an argument vector, so no shell
// ever reads a path, and the child's output goes straight into its log file.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace headcount {

// Starts `arguments` (arguments[0] is the program: a path, or a name looked up in PATH) with stdout and stderr appended
// to log_path. Throws std::runtime_error, naming the program, when it cannot be started.
// hold_stop_signals starts the child with SIGINT, SIGTERM and SIGHUP blocked, for a headcount child:
// its StopSignal unblocks them, so a Ctrl-C during its start-up becomes a stop request
// instead of its death (which would leave the ranks of a data-parallel group waiting).
// extra_environment: "NAME=VALUE" entries the child gets on top of (or instead of) this
// process's own.
pid_t start_process(const std::vector<std::string>& arguments, const std::string& log_path,
                    bool hold_stop_signals = false, const std::vector<std::string>& extra_environment = {});

// Waits for the process to end and returns its status as a shell shows it: the exit code,
// or 128 + the signal that ended it. While it waits it asks `stop_requested` (if given)
// every tenth of a second; the first time that returns true the child is sent SIGTERM,
// so a child that saves its work on SIGTERM (train does) is stopped cleanly. A child still
// running grace_seconds later (0: wait for ever) is sent SIGKILL, and *killed says so.
int wait_for_process(pid_t pid, const std::function<bool()>& stop_requested = {}, double grace_seconds = 0,
                     bool* killed = nullptr);

}  // namespace headcount
