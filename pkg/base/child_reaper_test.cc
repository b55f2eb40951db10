#include "pkg/base/child_reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

// True once `pid` no longer exists, not even as a zombie (reaped).
bool Reaped(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

bool WaitUntilReaped(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!Reaped(pid)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class ChildReaperTest : public ::testing::Test {
 protected:
  void TearDown() override { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

TEST_F(ChildReaperTest, ReapsOrphansAndLeavesOwnedChildrenToTheirOwners) {
  auto reaper = OrphanReaper::Start();
  ASSERT_TRUE(reaper.ok()) << reaper.status();
  int subreaper = 0;
  ASSERT_EQ(::prctl(PR_GET_CHILD_SUBREAPER, &subreaper), 0);
  EXPECT_EQ(subreaper, 1);

  // A daemonizing child (as conmon is): its grandchild is reparented to us
  // and must be reaped by the reaper; the child, ours, keeps its status.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = SpawnOwnedChild([&] {
    pid_t pid = ::fork();
    if (pid == 0) {
      pid_t grandchild = ::fork();
      if (grandchild == 0) {
        ::usleep(200 * 1000);
        ::_exit(0);
      }
      (void)!::write(fds[1], &grandchild, sizeof(grandchild));
      ::_exit(3);
    }
    return pid;
  });
  ASSERT_GT(child, 0);
  ::close(fds[1]);
  pid_t grandchild = -1;
  ASSERT_EQ(::read(fds[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
  ::close(fds[0]);

  // Let the reaper run a few rounds while the child is a zombie of ours.
  absl::SleepFor(absl::Milliseconds(300));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child) << "the reaper took an owned child";
  ReleaseOwnedChild(child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);

  // Woken by its SIGCHLD, well before the reaper's 10 s safety net.
  EXPECT_TRUE(WaitUntilReaped(grandchild, absl::Seconds(2))) << "orphan " << grandchild;
}

// The reaper's thread's count of voluntary context switches (-1: none).
long ReaperWakeups() {
  absl::StatusOr<std::vector<std::string>> tasks = ListDir("/proc/self/task");
  if (!tasks.ok()) return -1;
  for (const std::string& task : *tasks) {
    std::string dir = "/proc/self/task/" + task;
    if (ReadFileToString(dir + "/comm", 64).value_or("") != "ocid-reaper\n") continue;
    std::string status = ReadFileToString(dir + "/status", 1 << 16).value_or("");
    size_t at = status.find("\nvoluntary_ctxt_switches:");
    if (at == std::string::npos) return -1;
    return std::strtol(status.c_str() + at + 26, nullptr, 10);
  }
  return -1;
}

TEST_F(ChildReaperTest, AnIdleReaperSleeps) {
  auto reaper = OrphanReaper::Start();
  ASSERT_TRUE(reaper.ok()) << reaper.status();
  absl::SleepFor(absl::Milliseconds(50));
  long before = ReaperWakeups();
  ASSERT_GE(before, 0) << "no ocid-reaper thread";
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_LE(ReaperWakeups() - before, 1) << "it woke with no child exiting";
}

TEST_F(ChildReaperTest, ReapOrphansSkipsRegisteredZombies) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t owned = SpawnOwnedChild([] {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(7);
    return pid;
  });
  ASSERT_GT(owned, 0);
  pid_t stray = ::fork();  // nobody's: the reaper's to take
  if (stray == 0) ::_exit(0);
  ASSERT_GT(stray, 0);
  absl::SleepFor(absl::Milliseconds(100));  // both are zombies by now

  EXPECT_EQ(ReapOrphans(), 1);
  EXPECT_TRUE(Reaped(stray));
  EXPECT_FALSE(Reaped(owned));
  int status = 0;
  ASSERT_EQ(::waitpid(owned, &status, 0), owned);
  ReleaseOwnedChild(owned);
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(ReapOrphans(), 0);
}

TEST_F(ChildReaperTest, PausedReaperLeavesZombiesForTheirForker) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t child = -1;
  {
    ScopedReapPause pause;
    child = ::fork();  // as gpgme forks: not registered
    if (child == 0) ::_exit(5);
    ASSERT_GT(child, 0);
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(ReapOrphans(), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(WEXITSTATUS(status), 5);
  }
  pid_t stray = ::fork();
  if (stray == 0) ::_exit(0);
  ASSERT_GT(stray, 0);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(ReapOrphans(), 1);  // reaping again once the pause ended
}

TEST_F(ChildReaperTest, TheEndOfAPauseReapsWhatItLeft) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t left = -1;
  {
    ScopedReapPause pause;
    left = ::fork();  // what gpgme leaves us: nobody waits for it
    if (left == 0) ::_exit(0);
    ASSERT_GT(left, 0);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(Reaped(left)) << "no SIGCHLD will come for " << left;
}

}  // namespace
}  // namespace ocid
