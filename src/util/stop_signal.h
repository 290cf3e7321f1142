// Ctrl-C (SIGINT), `kill` (SIGTERM) and a closed terminal or ssh session (SIGHUP) as a
// request to stop cleanly rather than at once: a training saves a checkpoint at the end of
// the current update and exits with status 128 + the signal (130 for Ctrl-C, 143 for
// SIGTERM, 129 for SIGHUP); `compare` starts no further run and
// passes SIGTERM on to the runs it is training. Both then continue from where they stopped
// when the same command is run again.
//
// A second Ctrl-C takes SIGINT's default action (the process ends at once), for a user who
// will not wait for an update or a dev evaluation to end. SIGTERM and SIGHUP never do: they
// often arrive twice, from a supervisor that signals a whole process group (timeout, Slurm,
// systemd, a closing terminal) and again from compare passing it on. A SIGINT or SIGHUP
// that the process was started ignoring (a background job of a script, nohup) stays ignored.
#pragma once

namespace headcount {

class StopSignal {
 public:
  // Installs the handlers for SIGINT, SIGTERM and SIGHUP, then unblocks them in this thread, so a
  // signal that arrived while a parent held them (start_process's hold_stop_signals) is
  // taken as a request now. At most one StopSignal may be alive.
  StopSignal();
  // Puts back the handlers that were there before.
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // True once SIGINT, SIGTERM or SIGHUP has arrived.
  bool requested() const;
  // The signal that asked first, 0 while none has.
  int signal_number() const;
  // What a stopped program exits with: 128 + signal_number() (130 when none).
  int exit_status() const;
};

}  // namespace headcount
