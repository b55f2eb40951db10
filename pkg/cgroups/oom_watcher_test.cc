// OomWatcher against fake cgroup trees: v2 memory.events rewritten in
// place (inotify sees it as the kernel's updates), v1 with the eventfd
// found in the fake cgroup.event_control and signalled by the test in the
// kernel's place.
#include "pkg/cgroups/oom_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "pkg/base/fs.h"
#include "pkg/cgroups/fake_cgroup_tree.h"

namespace ocid {
namespace {

class OomWatcherTest : public FakeCgroupTree {
 protected:
  OomWatcher::OnOom Recorder() {
    return [this](const std::string& key) {
      absl::MutexLock lock(&mu_);
      seen_.push_back(key);
    };
  }
  // The keys reported once `count` are there (or after 2 s).
  std::vector<std::string> Seen(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return seen_.size() >= count; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(2));
    return seen_;
  }
  // Waits until `watcher` watches `count` cgroups (or 2 s).
  static size_t WaitWatching(const OomWatcher& watcher, size_t count) {
    for (int i = 0; i < 200 && watcher.watching() != count; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    return watcher.watching();
  }

  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

TEST_F(OomWatcherTest, V2ReportsEachRiseOfTheOomKillCounter) {
  Rewrite("cgroup.controllers", "cpu memory pids\n");
  Rewrite("pod/a/memory.events", "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n");  // before the watch
  Rewrite("pod/b/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher = OomWatcher::Start(*cgroups, Recorder());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Watch("a", "/pod/a").ok());
  ASSERT_TRUE((*watcher)->Watch("b", "/pod/b").ok());
  EXPECT_EQ((*watcher)->Watch("c", "/pod/c").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*watcher)->watching(), 2u);

  // A change that is no kill (max rising) reports nothing; a kill does.
  Rewrite("pod/a/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  Rewrite("pod/b/memory.events", "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n");
  EXPECT_EQ(Seen(1), std::vector<std::string>({"b"}));
  Rewrite("pod/a/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
  EXPECT_EQ(Seen(2), std::vector<std::string>({"b", "a"}));

  // Unwatched: no more reports for it.
  (*watcher)->Unwatch("a");
  (*watcher)->Unwatch("unknown");
  EXPECT_EQ((*watcher)->watching(), 1u);
  Rewrite("pod/a/memory.events", "low 0\nhigh 0\nmax 3\noom 3\noom_kill 3\n");
  Rewrite("pod/b/memory.events", "low 0\nhigh 0\nmax 1\noom 2\noom_kill 2\n");
  EXPECT_EQ(Seen(3), std::vector<std::string>({"b", "a", "b"}));

  // The cgroup removed: its watch ends by itself.
  ASSERT_TRUE(RemoveAll(root_ + "/pod/b").ok());
  EXPECT_EQ(WaitWatching(**watcher, 0), 0u);
}

TEST_F(OomWatcherTest, V2WatchingAgainUnderTheSameKeyKeepsOneWatch) {
  Rewrite("cgroup.controllers", "memory\n");
  Rewrite("c/memory.events", "oom_kill 0\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher = OomWatcher::Start(*cgroups, Recorder());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Watch("k", "/c").ok());
  ASSERT_TRUE((*watcher)->Watch("k", "/c").ok());
  EXPECT_EQ((*watcher)->watching(), 1u);
  Rewrite("c/memory.events", "oom_kill 1\n");
  EXPECT_EQ(Seen(1), std::vector<std::string>({"k"}));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Seen(1).size(), 1u) << "reported once";
}

// The eventfd number named in the fake cgroup.event_control (the test is
// the process that holds it, as the kernel would be).
int RegisteredEventFd(const std::string& event_control) {
  absl::StatusOr<std::string> line = ReadFileToString(event_control, 100);
  if (!line.ok()) return -1;
  std::vector<std::string> parts = absl::StrSplit(*line, ' ');
  int fd = -1;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &fd)) return -1;
  return fd;
}

TEST_F(OomWatcherTest, V1ReportsTheEventFdAndEndsWhenTheCgroupGoes) {
  Rewrite("cpuacct/cpuacct.usage", "0\n");
  Rewrite("memory/pod/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  Rewrite("memory/pod/c/cgroup.event_control", "");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher = OomWatcher::Start(*cgroups, Recorder());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Watch("c", "/pod/c").ok());
  EXPECT_EQ((*watcher)->Watch("d", "/pod/d").code(), absl::StatusCode::kNotFound);

  int eventfd = RegisteredEventFd(root_ + "/memory/pod/c/cgroup.event_control");
  ASSERT_GE(eventfd, 0);
  uint64_t one = 1;
  ASSERT_EQ(::write(eventfd, &one, sizeof(one)), 8);
  EXPECT_EQ(Seen(1), std::vector<std::string>({"c"}));
  ASSERT_EQ(::write(eventfd, &one, sizeof(one)), 8);
  EXPECT_EQ(Seen(2), std::vector<std::string>({"c", "c"}));

  // The kernel's signal on removal is no OOM, and ends the watch.
  ASSERT_TRUE(RemoveAll(root_ + "/memory/pod/c").ok());
  ASSERT_EQ(::write(eventfd, &one, sizeof(one)), 8);
  EXPECT_EQ(WaitWatching(**watcher, 0), 0u);
  EXPECT_EQ(Seen(3).size(), 2u);
}

TEST_F(OomWatcherTest, V1UnwatchClosesTheEventFd) {
  Rewrite("cpuacct/cpuacct.usage", "0\n");
  Rewrite("memory/c/memory.oom_control", "oom_kill 0\n");
  Rewrite("memory/c/cgroup.event_control", "");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher = OomWatcher::Start(*cgroups, Recorder());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Watch("c", "/c").ok());
  int eventfd = RegisteredEventFd(root_ + "/memory/c/cgroup.event_control");
  ASSERT_GE(eventfd, 0);
  (*watcher)->Unwatch("c");
  EXPECT_EQ((*watcher)->watching(), 0u);
  EXPECT_EQ(::fcntl(eventfd, F_GETFD), -1) << "closed, so the kernel drops the registration";
}

TEST_F(OomWatcherTest, NoMemoryControllerIsFailedPrecondition) {
  Rewrite("cpuacct/cpuacct.usage", "0\n");
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open(root_);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher = OomWatcher::Start(*cgroups, Recorder());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  EXPECT_EQ((*watcher)->Watch("c", "/c").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ocid
