// OomWatcher on the host's real memory cgroup (v1 or v2): a child that
// allocates past the cgroup's limit is OOM-killed and reported; removing
// the cgroup ends the watch. Needs root.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "pkg/cgroups/cgroups.h"
#include "pkg/cgroups/oom_watcher.h"

namespace ocid {
namespace {

TEST(OomWatcherRootTest, ReportsTheKernelsOomKill) {
  absl::StatusOr<Cgroups> cgroups = Cgroups::Open();
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  const std::string path = absl::StrCat("/ocid-oom-watcher-test-", ::getpid());
  CgroupLimits limits;
  limits.memory_limit = 16 << 20;
  ASSERT_TRUE(cgroups->SetLimits(path, limits).ok());

  absl::Mutex mu;
  std::vector<std::string> seen;
  absl::StatusOr<std::unique_ptr<OomWatcher>> watcher =
      OomWatcher::Start(*cgroups, [&](const std::string& key) {
        absl::MutexLock lock(&mu);
        seen.push_back(key);
      });
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  absl::Status watched = (*watcher)->Watch("hog", path);
  ASSERT_TRUE(watched.ok()) << watched;

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!cgroups->Join(path, ::getpid()).ok()) _exit(3);
    for (int i = 0; i < 256; ++i) {  // up to 256 MiB, touched page by page
      char* block = static_cast<char*>(::malloc(1 << 20));
      if (block == nullptr) _exit(4);
      std::memset(block, 1, 1 << 20);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  {
    absl::MutexLock lock(&mu);
    auto reported = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !seen.empty(); };
    mu.AwaitWithTimeout(absl::Condition(&reported), absl::Seconds(5));
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen[0], "hog");
  }
  EXPECT_GE(cgroups->OomKillCount(path).value_or(0), 1u);

  size_t before = seen.size();
  ASSERT_TRUE(cgroups->Remove(path, absl::Seconds(2)).ok());
  for (int i = 0; i < 200 && (*watcher)->watching() != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*watcher)->watching(), 0u) << "the removal ends the watch";
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.size(), before) << "the removal is no OOM";
}

}  // namespace
}  // namespace ocid
