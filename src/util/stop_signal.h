// Ctrl-C (SIGINT) and `kill` (SIGTERM) as a request to stop cleanly rather than at once: a
// training saves a checkpoint at the end of the current update and exits with status 130;
// `compare` starts no further run and passes the request on to the runs it is training.
// Both then continue from where they stopped when the same command is run again.
//
// The same signal a second time takes its default action (the process ends at once), for
// a user who will not wait for an update or a dev evaluation to end. A different signal
// does not: `compare` passes SIGTERM to a run that the terminal's Ctrl-C reached already.
#pragma once

namespace headcount {

class StopSignal {
 public:
  // Installs the handlers for SIGINT and SIGTERM; at most one StopSignal may be alive.
  StopSignal();
  // Puts back the handlers that were there before.
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // True once SIGINT or SIGTERM has arrived.
  bool requested() const;
  // The signal that asked first (SIGINT or SIGTERM), 0 while none has.
  int signal_number() const;
};

}  // namespace headcount
