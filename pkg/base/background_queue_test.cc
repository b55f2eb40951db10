#include "pkg/base/background_queue.h"

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000 && !done(); ++i) absl::SleepFor(absl::Milliseconds(10));
  return done();
}

TEST(BackgroundQueueTest, RunsTasksInOrderOffTheCallersThread) {
  BackgroundQueue queue("test-queue");
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 20; ++i) {
    queue.Run([&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    });
  }
  queue.Drain();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
  for (std::thread::id id : threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(BackgroundQueueTest, TheThreadGoesWhenIdleAndComesBackForMore) {
  BackgroundQueue queue("test-queue");
  EXPECT_FALSE(queue.running()) << "no thread before the first task";
  std::atomic<int> ran{0};
  queue.Run([&] { ++ran; });
  EXPECT_TRUE(Eventually([&] { return !queue.running(); })) << "the thread stays after its work";
  EXPECT_EQ(ran.load(), 1);
  queue.Run([&] { ++ran; });
  queue.Drain();
  EXPECT_EQ(ran.load(), 2);
}

TEST(BackgroundQueueTest, RunDoesNotWaitForARunningTask) {
  BackgroundQueue queue("test-queue");
  absl::Notification started, release;
  queue.Run([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  absl::Time before = absl::Now();
  std::atomic<bool> second{false};
  queue.Run([&] { second = true; });
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  EXPECT_FALSE(second.load()) << "one task at a time";
  release.Notify();
  queue.Drain();
  EXPECT_TRUE(second.load());
}

TEST(BackgroundQueueTest, TheDestructorRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    BackgroundQueue queue("test-queue");
    for (int i = 0; i < 5; ++i) {
      queue.Run([&] {
        absl::SleepFor(absl::Milliseconds(5));
        ++ran;
      });
    }
  }
  EXPECT_EQ(ran.load(), 5);
}

}  // namespace
}  // namespace ocid
