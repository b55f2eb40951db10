// The lifecycle events of pods and containers (CRI GetContainerEvents): a
// manager publishes one where it records the state change; each subscriber
// reads them in order from a bounded buffer of its own. Publishing never
// waits for a subscriber: one that falls `capacity` events behind is dropped
// (its Next says so) and counted, so a stalled client cannot slow pods down.
#ifndef OCID_PKG_EVENTS_EVENT_BUS_H_
#define OCID_PKG_EVENTS_EVENT_BUS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ocid {

enum class LifecycleEventType { kCreated, kStarted, kStopped, kDeleted };

// One state change. For a pod's own events (as containerd sends them for its
// sandboxes) `container_id` is the pod's ID.
struct LifecycleEvent {
  std::string container_id;
  std::string pod_id;
  LifecycleEventType type = LifecycleEventType::kCreated;
  int64_t created_at = 0;  // Unix ns, when the change was recorded
  uint64_t sequence = 0;   // set by Publish: 1, 2, ... in publishing order
};

class EventBus {
 public:
  static constexpr size_t kDefaultCapacity = 1000;
  explicit EventBus(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  class Subscription;

  // Stamps `created_at` now if unset, numbers the event and hands it to
  // every subscriber. Cheap with none.
  void Publish(LifecycleEvent event);

  // Events published from now on. The bus must outlive the subscription.
  std::unique_ptr<Subscription> Subscribe();

  // Ends every subscription: their Next return kClosed once drained. For
  // shutdown, so that streams waiting on the bus let the server stop.
  void Close();

  // `hook` runs after every Publish and after Close, outside the bus's own
  // mutex and never concurrently with itself; once this returns, the hook
  // it replaced runs no more. Lets one thread serve many subscriptions
  // (reading them with Next(ZeroDuration())), woken when there is news,
  // instead of a thread waiting on each. nullptr removes it.
  void SetOnPublish(std::function<void()> hook);
  bool closed() const;

  // Subscribers dropped for falling behind, since start.
  uint64_t dropped_total() const;
  size_t subscribers() const;

 private:
  void Unsubscribe(Subscription* subscription);
  void RunHook();

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  // Its own mutex: the hook runs after mu_ is released.
  absl::Mutex hook_mu_;
  std::function<void()> on_publish_ ABSL_GUARDED_BY(hook_mu_);
};

class EventBus::Subscription {
 public:
  enum class Ending { kNone, kClosed, kOverflowed };

  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The next event, waiting up to `timeout`; nullopt on timeout or once the
  // subscription has ended (then `ended()` says why).
  std::optional<LifecycleEvent> Next(absl::Duration timeout);
  // The next event if one is queued, never waiting, and in `left` (when
  // given) how many remain queued after it. For a reader woken by the
  // bus's hook: Next(ZeroDuration()) on an empty queue still goes through
  // the mutex's timed wait, a futex call that times out at once.
  std::optional<LifecycleEvent> TryNext(size_t* left = nullptr);
  Ending ended() const;
  // Events waiting to be read.
  size_t queued() const;

 private:
  friend class EventBus;
  explicit Subscription(EventBus& bus) : bus_(bus) {}
  // Called by the bus under its own mutex; this mutex is taken after it.
  // Returns false when the buffer was full and the subscription ended.
  bool Offer(const LifecycleEvent& event, size_t capacity);
  void Finish(Ending why);

  EventBus& bus_;
  mutable absl::Mutex mu_;
  std::deque<LifecycleEvent> queue_ ABSL_GUARDED_BY(mu_);
  Ending end_ ABSL_GUARDED_BY(mu_) = Ending::kNone;
};

}  // namespace ocid

#endif  // OCID_PKG_EVENTS_EVENT_BUS_H_
