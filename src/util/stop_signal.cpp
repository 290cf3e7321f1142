#include "util/stop_signal.h"

#include <csignal>
#include <stdexcept>

namespace headcount {

namespace {

// A signal handler can only talk to the program through a variable of static storage, so
// this is the one piece of process-wide state; StopSignal owns it while it is alive.
volatile std::sig_atomic_t first_signal = 0;
bool installed = false;
struct sigaction previous_interrupt, previous_terminate;

extern "C" void on_stop_signal(int signal_number) {
  if (first_signal == 0) {
    first_signal = signal_number;
    return;
  }
  if (first_signal != signal_number) return;
  // Asked twice in the same way: the default action (end the process) now. sigaction and
  // raise are async-signal-safe.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(signal_number, &default_action, nullptr);
  raise(signal_number);
}

}  // namespace

StopSignal::StopSignal() {
  if (installed) throw std::logic_error("StopSignal: only one may be alive at a time");
  first_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress carry on
  sigaction(SIGINT, &action, &previous_interrupt);
  sigaction(SIGTERM, &action, &previous_terminate);
  installed = true;
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &previous_terminate, nullptr);
  installed = false;
}

bool StopSignal::requested() const { return first_signal != 0; }

int StopSignal::signal_number() const { return first_signal; }

}  // namespace headcount
