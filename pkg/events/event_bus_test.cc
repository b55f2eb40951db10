#include "pkg/events/event_bus.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

LifecycleEvent Event(const std::string& id, LifecycleEventType type) {
  return LifecycleEvent{id, "pod", type, 0};
}

TEST(EventBusTest, EachSubscriberGetsEveryLaterEventInOrder) {
  EventBus bus;
  bus.Publish(Event("before", LifecycleEventType::kCreated));  // nobody listens yet
  auto first = bus.Subscribe();
  auto second = bus.Subscribe();
  bus.Publish(Event("c", LifecycleEventType::kCreated));
  bus.Publish(Event("c", LifecycleEventType::kStarted));
  for (auto* subscription : {first.get(), second.get()}) {
    EXPECT_EQ(subscription->queued(), 2u);
    std::optional<LifecycleEvent> created = subscription->Next(absl::Seconds(1));
    ASSERT_TRUE(created.has_value());
    EXPECT_EQ(created->container_id, "c");
    EXPECT_EQ(created->type, LifecycleEventType::kCreated);
    EXPECT_GT(created->created_at, 0) << "stamped when published";
    EXPECT_EQ(created->sequence, 2u) << "numbered in publishing order, unheard ones too";
    EXPECT_EQ(subscription->queued(), 1u);
    std::optional<LifecycleEvent> started = subscription->Next(absl::Seconds(1));
    ASSERT_TRUE(started.has_value());
    EXPECT_EQ(subscription->queued(), 0u);
    EXPECT_EQ(started->type, LifecycleEventType::kStarted);
    EXPECT_FALSE(subscription->Next(absl::Milliseconds(1)).has_value());
    EXPECT_EQ(subscription->ended(), EventBus::Subscription::Ending::kNone);
  }
}

TEST(EventBusTest, TryNextTakesWhatIsQueuedAndSaysHowManyAreLeft) {
  EventBus bus(2);
  auto subscription = bus.Subscribe();
  size_t left = 99;
  EXPECT_FALSE(subscription->TryNext(&left).has_value());
  EXPECT_EQ(left, 0u);
  bus.Publish(Event("a", LifecycleEventType::kCreated));
  bus.Publish(Event("a", LifecycleEventType::kStarted));
  std::optional<LifecycleEvent> created = subscription->TryNext(&left);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->type, LifecycleEventType::kCreated);
  EXPECT_EQ(left, 1u);
  std::optional<LifecycleEvent> started = subscription->TryNext();
  ASSERT_TRUE(started.has_value());
  EXPECT_EQ(started->type, LifecycleEventType::kStarted);
  EXPECT_FALSE(subscription->TryNext(&left).has_value());
  EXPECT_EQ(left, 0u);
  // Overflowed: what it held is gone, and the ending shows once drained.
  for (int i = 0; i < 3; ++i) bus.Publish(Event("b", LifecycleEventType::kCreated));
  EXPECT_FALSE(subscription->TryNext().has_value());
  EXPECT_EQ(subscription->ended(), EventBus::Subscription::Ending::kOverflowed);
}

TEST(EventBusTest, NextWakesWhenAnEventComes) {
  EventBus bus;
  auto subscription = bus.Subscribe();
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(50));
    bus.Publish(Event("late", LifecycleEventType::kStopped));
  });
  std::optional<LifecycleEvent> event = subscription->Next(absl::Seconds(10));
  publisher.join();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->container_id, "late");
}

TEST(EventBusTest, ASubscriberThatFallsBehindIsDroppedAndOthersAreNot) {
  EventBus bus(3);
  auto slow = bus.Subscribe();
  auto fast = bus.Subscribe();
  for (int i = 0; i < 5; ++i) {
    bus.Publish(Event(std::to_string(i), LifecycleEventType::kCreated));
    ASSERT_TRUE(fast->Next(absl::Seconds(1)).has_value()) << i;
  }
  EXPECT_FALSE(slow->Next(absl::Milliseconds(1)).has_value()) << "its backlog went with it";
  EXPECT_EQ(slow->ended(), EventBus::Subscription::Ending::kOverflowed);
  EXPECT_EQ(bus.dropped_total(), 1u);
  EXPECT_EQ(bus.subscribers(), 1u);
  EXPECT_EQ(fast->ended(), EventBus::Subscription::Ending::kNone);
}

TEST(EventBusTest, PublishingDoesNotWaitForAStalledSubscriber) {
  EventBus bus;
  auto stalled = bus.Subscribe();  // never reads
  absl::Time start = absl::Now();
  for (int i = 0; i < 5000; ++i) bus.Publish(Event("c", LifecycleEventType::kCreated));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(stalled->Next(absl::ZeroDuration()).has_value()) << "dropped with its backlog";
  EXPECT_EQ(stalled->ended(), EventBus::Subscription::Ending::kOverflowed);
  EXPECT_EQ(bus.dropped_total(), 1u);
}

TEST(EventBusTest, CloseEndsWaitingSubscribersAfterTheirBacklog) {
  EventBus bus;
  auto subscription = bus.Subscribe();
  bus.Publish(Event("c", LifecycleEventType::kDeleted));
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    bus.Close();
  });
  EXPECT_TRUE(subscription->Next(absl::Seconds(10)).has_value()) << "the backlog first";
  EXPECT_FALSE(subscription->Next(absl::Seconds(10)).has_value());
  closer.join();
  EXPECT_EQ(subscription->ended(), EventBus::Subscription::Ending::kClosed);
  EXPECT_EQ(bus.Subscribe()->ended(), EventBus::Subscription::Ending::kClosed);
}

TEST(EventBusTest, ASubscriptionLeavesTheBusWhenDestroyed) {
  EventBus bus;
  {
    auto subscription = bus.Subscribe();
    EXPECT_EQ(bus.subscribers(), 1u);
  }
  EXPECT_EQ(bus.subscribers(), 0u);
  bus.Publish(Event("c", LifecycleEventType::kCreated));  // no dangling subscriber
}

TEST(EventBusTest, TheHookRunsAfterEachPublishAndTheCloseUntilReplaced) {
  EventBus bus;
  std::atomic<int> calls{0};
  std::atomic<int> published_when_called{-1};
  bus.SetOnPublish([&] {
    ++calls;
    published_when_called = static_cast<int>(bus.dropped_total());  // the bus is not locked
  });
  bus.Publish(Event("c", LifecycleEventType::kCreated));
  bus.Publish(Event("c", LifecycleEventType::kStarted));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(published_when_called.load(), 0) << "called with the bus's mutex released";
  EXPECT_FALSE(bus.closed());
  bus.Close();
  EXPECT_EQ(calls.load(), 3) << "a close is news too";
  EXPECT_TRUE(bus.closed());

  bus.SetOnPublish(nullptr);
  bus.Publish(Event("c", LifecycleEventType::kStopped));
  EXPECT_EQ(calls.load(), 3) << "a removed hook runs no more";
}

TEST(EventBusTest, ReplacingTheHookWaitsForARunningOne) {
  EventBus bus;
  absl::Notification running, release;
  std::atomic<bool> old_done{false};
  bus.SetOnPublish([&] {
    running.Notify();
    release.WaitForNotification();
    old_done = true;
  });
  std::thread publisher([&] { bus.Publish(Event("c", LifecycleEventType::kCreated)); });
  running.WaitForNotification();
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(50));
    release.Notify();
  });
  bus.SetOnPublish(nullptr);
  EXPECT_TRUE(old_done.load()) << "SetOnPublish returned while the old hook still ran";
  publisher.join();
  releaser.join();
}

}  // namespace
}  // namespace ocid
