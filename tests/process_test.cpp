// Child processes and the stop signal: exit statuses as a shell shows them, output into
// the log, a stop request passed on as SIGTERM, and Ctrl-C/SIGTERM turned into a request.
#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "util/process.h"
#include "util/stop_signal.h"

namespace headcount {
namespace {

namespace fs = std::filesystem;

std::string log_path(const std::string& name) {
  const auto path = (fs::temp_directory_path() / ("hc_process_" + name + ".log")).string();
  fs::remove(path);
  return path;
}

TEST(Process, ExitCodeAndOutputReachTheCaller) {
  const auto log = log_path("exit");
  EXPECT_EQ(wait_for_process(start_process({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, log)), 3);
  EXPECT_EQ(testing::read_text(log), "out\nerr\n");
  EXPECT_EQ(wait_for_process(start_process({"/bin/sh", "-c", "kill -KILL $$"}, log)), 128 + SIGKILL);
}

TEST(Process, StartingAMissingProgramNamesIt) {
  try {
    start_process({"/nonexistent/headcount"}, log_path("missing"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/headcount"), std::string::npos);
  }
}

TEST(Process, StopRequestIsPassedOnAsSigterm) {
  // The child ends by SIGTERM, not by finishing its 30 seconds.
  const pid_t pid = start_process({"/bin/sleep", "30"}, log_path("stop"));
  EXPECT_EQ(wait_for_process(pid, [] { return true; }), 128 + SIGTERM);
}

TEST(Process, HeldStopSignalsWaitForTheChildToTakeThem) {
  // SIGTERM to a sleeping child: held, the child sleeps on and ends normally; not held, it
  // dies of it. (sleep leaves its signal mask as it found it.)
  const auto log = log_path("held");
  const pid_t held = start_process({"/bin/sleep", "0.3"}, log, /*hold_stop_signals=*/true);
  kill(held, SIGTERM);
  EXPECT_EQ(wait_for_process(held), 0);
  const pid_t plain = start_process({"/bin/sleep", "0.3"}, log);
  kill(plain, SIGTERM);
  EXPECT_EQ(wait_for_process(plain), 128 + SIGTERM);
}

void record_signal(int) {}

// Installs a do-nothing handler for SIGINT and SIGTERM for the test's length, so that a
// signal StopSignal does not take cannot end the test process.
class OwnHandlers {
 public:
  OwnHandlers() {
    struct sigaction own {};
    own.sa_handler = record_signal;
    sigemptyset(&own.sa_mask);
    sigaction(SIGINT, &own, &interrupt_);
    sigaction(SIGTERM, &own, &terminate_);
  }
  ~OwnHandlers() {
    sigaction(SIGINT, &interrupt_, nullptr);
    sigaction(SIGTERM, &terminate_, nullptr);
  }

 private:
  struct sigaction interrupt_ {}, terminate_ {};
};

TEST(StopSignal, FirstSignalIsARequestAndTheOldHandlersComeBack) {
  OwnHandlers own;
  {
    StopSignal stop;
    EXPECT_FALSE(stop.requested());
    raise(SIGTERM);
    EXPECT_TRUE(stop.requested());
    EXPECT_EQ(stop.signal_number(), SIGTERM);
    EXPECT_EQ(stop.exit_status(), 143);
    raise(SIGTERM);  // SIGTERM again (a supervisor and compare both pass it on): still a request
    raise(SIGINT);   // a first Ctrl-C after it: also
    EXPECT_EQ(stop.signal_number(), SIGTERM);
    EXPECT_THROW(StopSignal(), std::logic_error);
  }
  struct sigaction seen {};
  sigaction(SIGTERM, nullptr, &seen);
  EXPECT_EQ(seen.sa_handler, record_signal);
  sigaction(SIGINT, nullptr, &seen);
  EXPECT_EQ(seen.sa_handler, record_signal);
  {
    StopSignal again;  // a new one starts with no request
    EXPECT_FALSE(again.requested());
    EXPECT_EQ(again.exit_status(), 130);
  }
}

TEST(StopSignal, SignalHeldBeforeItsInstallationBecomesARequest) {
  OwnHandlers own;
  sigset_t held, before;
  sigemptyset(&held);
  sigaddset(&held, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &held, &before);
  raise(SIGTERM);  // pending, as for a child started by start_process(..., true)
  {
    StopSignal stop;
    EXPECT_TRUE(stop.requested());
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

TEST(StopSignal, IgnoredInterruptStaysIgnored) {
  OwnHandlers own;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, nullptr);
  {
    StopSignal stop;
    raise(SIGINT);
    EXPECT_FALSE(stop.requested());
  }
}

TEST(StopSignalDeathTest, SecondInterruptEndsTheProcessAtOnce) {
  EXPECT_EXIT(
      {
        StopSignal stop;
        raise(SIGINT);
        raise(SIGINT);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace headcount
