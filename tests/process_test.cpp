// Child processes and the stop signal: exit statuses as a shell shows them, output into
// the log, a stop request passed on as SIGTERM, and Ctrl-C/SIGTERM turned into a request.
#include <signal.h>

#include <chrono>
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
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = start_process({"/bin/sleep", "30"}, log_path("stop"));
  EXPECT_EQ(wait_for_process(pid, [] { return true; }), 128 + SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

void record_signal(int) {}

TEST(StopSignal, FirstSignalIsARequestAndTheOldHandlersComeBack) {
  struct sigaction own {}, seen {};
  own.sa_handler = record_signal;
  sigemptyset(&own.sa_mask);
  struct sigaction before_interrupt {}, before_terminate {};
  sigaction(SIGINT, &own, &before_interrupt);
  sigaction(SIGTERM, &own, &before_terminate);
  {
    StopSignal stop;
    EXPECT_FALSE(stop.requested());
    raise(SIGTERM);
    EXPECT_TRUE(stop.requested());
    EXPECT_EQ(stop.signal_number(), SIGTERM);
    raise(SIGINT);  // another signal after the first: still only a request
    EXPECT_EQ(stop.signal_number(), SIGTERM);
    EXPECT_THROW(StopSignal(), std::logic_error);
  }
  sigaction(SIGTERM, nullptr, &seen);
  EXPECT_EQ(seen.sa_handler, record_signal);
  sigaction(SIGINT, nullptr, &seen);
  EXPECT_EQ(seen.sa_handler, record_signal);
  StopSignal again;  // a new one starts with no request
  EXPECT_FALSE(again.requested());
  sigaction(SIGINT, &before_interrupt, nullptr);
  sigaction(SIGTERM, &before_terminate, nullptr);
}

TEST(StopSignalDeathTest, SameSignalTwiceEndsTheProcessAtOnce) {
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
