#include "util/stop_signal.h"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <stdexcept>

namespace headcount {

namespace {

// A signal handler can only talk to the program through variables of static storage, so
// these are the one piece of process-wide state; StopSignal owns them while it is alive.
// Lock-free atomics are safe in a handler and between threads (compare's workers read them).
std::atomic<int> first_signal{0};
std::atomic<int> interrupts{0};
static_assert(std::atomic<int>::is_always_lock_free);
bool installed = false;
struct sigaction previous_interrupt, previous_terminate, previous_hangup;

extern "C" void on_stop_signal(int signal_number) {
  int none = 0;
  first_signal.compare_exchange_strong(none, signal_number);
  if (signal_number != SIGINT || interrupts.fetch_add(1) == 0) return;
  // The second Ctrl-C: SIGINT's default action now. sigaction and raise are
  // async-signal-safe.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(SIGINT, &default_action, nullptr);
  raise(SIGINT);
}

}  // namespace

StopSignal::StopSignal() {
  if (installed) throw std::logic_error("StopSignal: only one may be alive at a time");
  first_signal = 0;
  interrupts = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);  // one handler at a time
  sigaddset(&action.sa_mask, SIGTERM);
  sigaddset(&action.sa_mask, SIGHUP);
  action.sa_flags = SA_RESTART;  // reads and writes in progress carry on
  sigaction(SIGINT, &action, &previous_interrupt);
  if (previous_interrupt.sa_handler == SIG_IGN) sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &action, &previous_terminate);
  sigaction(SIGHUP, &action, &previous_hangup);
  if (previous_hangup.sa_handler == SIG_IGN) sigaction(SIGHUP, &previous_hangup, nullptr);  // nohup
  installed = true;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &previous_interrupt, nullptr);
  sigaction(SIGTERM, &previous_terminate, nullptr);
  sigaction(SIGHUP, &previous_hangup, nullptr);
  installed = false;
}

bool StopSignal::requested() const { return first_signal != 0; }

int StopSignal::signal_number() const { return first_signal; }

int StopSignal::exit_status() const { return 128 + (first_signal != 0 ? first_signal.load() : SIGINT); }

}  // namespace headcount
