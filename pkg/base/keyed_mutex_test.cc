#include "pkg/base/keyed_mutex.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(KeyedMutexTest, SameKeyIsSerialised) {
  KeyedMutex locks;
  std::atomic<bool> second_in{false};
  std::thread second;
  {
    KeyedMutex::Lock held = locks.Acquire("pod");
    second = std::thread([&] {
      KeyedMutex::Lock lock = locks.Acquire("pod");
      second_in = true;
    });
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_FALSE(second_in) << "a second holder got in while the first held the key";
  }
  second.join();
  EXPECT_TRUE(second_in);
  EXPECT_EQ(locks.size(), 0u);
}

TEST(KeyedMutexTest, DifferentKeysDoNotWait) {
  KeyedMutex locks;
  KeyedMutex::Lock a = locks.Acquire("a");
  absl::Notification b_held;
  std::thread other([&] {
    KeyedMutex::Lock b = locks.Acquire("b");
    b_held.Notify();
  });
  EXPECT_TRUE(b_held.WaitForNotificationWithTimeout(absl::Seconds(10)));
  other.join();
  EXPECT_EQ(locks.size(), 1u);
}

TEST(KeyedMutexTest, MovedLockReleasesOnce) {
  KeyedMutex locks;
  {
    KeyedMutex::Lock first = locks.Acquire("x");
    KeyedMutex::Lock moved = std::move(first);
    EXPECT_EQ(locks.size(), 1u);
  }
  EXPECT_EQ(locks.size(), 0u);
  KeyedMutex::Lock again = locks.Acquire("x");  // would deadlock if still held
}

TEST(KeyedMutexTest, SharedHoldersRunTogetherAndExcludeAnExclusiveOne) {
  KeyedMutex locks;
  KeyedMutex::Lock first = locks.AcquireShared("pod");
  absl::Notification second_in;
  std::thread second([&] {
    KeyedMutex::Lock lock = locks.AcquireShared("pod");
    second_in.Notify();
  });
  EXPECT_TRUE(second_in.WaitForNotificationWithTimeout(absl::Seconds(10)));
  second.join();
  std::atomic<bool> exclusive_in{false};
  std::thread exclusive([&] {
    KeyedMutex::Lock lock = locks.Acquire("pod");
    exclusive_in = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(exclusive_in) << "an exclusive holder got in beside a shared one";
  { KeyedMutex::Lock released = std::move(first); }
  exclusive.join();
  EXPECT_TRUE(exclusive_in);
  EXPECT_EQ(locks.size(), 0u);
}

}  // namespace
}  // namespace ocid
