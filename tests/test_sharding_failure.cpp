// A rank that fails (an exception, a kill, a hang) ends the whole MPI job
// with a non-zero status within 60 s instead of hanging it. Each test starts
// a child `mpirun -np 2` of this very program, filtered to FailureChild.Run,
// in which rank 1 fails while rank 0 waits in an all_reduce.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "sharding/mpi_communicator.h"
#include "sharding/mpi_session.h"

namespace {

constexpr const char* kModeVar = "READ_FAILURE_CHILD_MODE";

// The child job. Only the "hang" mode relies on the collective watchdog (5 s);
// the others give it 300 s, so what ends them within the test's limit is the
// abort path under test.
TEST(FailureChild, Run) {
  const char* mode_env = std::getenv(kModeVar);
  if (!mode_env) GTEST_SKIP() << "runs only as the child job of the FailingRank tests";
  const std::string mode = mode_env;
  rd::MpiSession mpi;
  rd::MpiCommunicator comm(MPI_COMM_WORLD, mode == "hang" ? 5.0 : 300.0);
  comm.barrier();
  if (comm.rank() == 1) {
    if (mode == "throw") throw rd::Error("injected failure (uncaught)");  // -> std::terminate
    if (mode == "unwind") throw rd::Error("injected failure (caught by gtest)");
    if (mode == "run_throw")
      mpi.run([]() -> int { throw rd::Error("injected failure inside MpiSession::run"); });
    if (mode == "exit_code") mpi.run([] { return 3; });
    if (mode == "kill") raise(SIGKILL);
    if (mode == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
  }
  torch::Tensor t = torch::ones({4});
  comm.all_reduce(t);  // rank 0 waits here for rank 1, which never comes
  ADD_FAILURE() << "rank " << comm.rank() << " got past the failure";
}

struct Outcome {
  int status = -1;  // exit code, or 128 + signal
  double seconds = 0;
  bool timed_out = false;
  std::string output;
};

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, n);
}

Outcome run_job(const std::string& mode, bool catch_exceptions = false) {
  constexpr double kLimit = 90;  // seconds before the test gives up and kills the job
  char log[] = "/tmp/read_failure_XXXXXX";
  const int fd = mkstemp(log);
  EXPECT_GE(fd, 0);
  std::vector<std::string> args = {"mpirun", "-np", "2", "--oversubscribe"};
  if (getuid() == 0) args.push_back("--allow-run-as-root");
  args.insert(args.end(),
              {self_path(), "--gtest_filter=FailureChild.Run",
               std::string("--gtest_catch_exceptions=") + (catch_exceptions ? "1" : "0")});
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    setenv(kModeVar, mode.c_str(), 1);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  Outcome o;
  int wstatus = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &wstatus, WNOHANG);
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == pid) break;
    if (o.seconds > kLimit) {
      o.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  o.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  close(fd);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  o.output = ss.str();
  unlink(log);
  std::printf("[ failure ] mode %s: job exit status %d after %.1f s\n", mode.c_str(), o.status,
              o.seconds);
  return o;
}

void expect_job_failed(const Outcome& o, double within_seconds, const std::string& says) {
  EXPECT_FALSE(o.timed_out) << "the job hung; its output:\n" << o.output;
  EXPECT_NE(o.status, 0) << o.output;
  EXPECT_LT(o.seconds, within_seconds) << o.output;
  EXPECT_NE(o.output.find(says), std::string::npos) << "expected '" << says << "' in:\n"
                                                    << o.output;
}

TEST(FailingRank, UncaughtExceptionAbortsJob) {
  expect_job_failed(run_job("throw"), 60, "injected failure (uncaught)");
}

TEST(FailingRank, ExceptionUnwindingTheSessionAbortsJob) {
  expect_job_failed(run_job("unwind", /*catch_exceptions=*/true), 60,
                    "MPI session left by an exception");
}

TEST(FailingRank, ExceptionInRunAbortsJob) {
  expect_job_failed(run_job("run_throw"), 60, "injected failure inside MpiSession::run");
}

TEST(FailingRank, NonZeroResultOfRunAbortsJob) {
  const Outcome o = run_job("exit_code");
  expect_job_failed(o, 60, "exit code 3");
}

TEST(FailingRank, KilledRankEndsJob) { expect_job_failed(run_job("kill"), 60, ""); }

TEST(FailingRank, HungRankIsEndedByTheWatchdog) {
  const Outcome o = run_job("hang");
  expect_job_failed(o, 60, "did not complete within 5 s");
  EXPECT_GE(o.seconds, 5.0) << "ended before the watchdog's timeout: by what?";
}

}  // namespace
