#include "pkg/events/event_bus.h"

#include <utility>

#include "pkg/base/log.h"

namespace ocid {

void EventBus::Publish(LifecycleEvent event) {
  if (event.created_at == 0) event.created_at = absl::ToUnixNanos(absl::Now());
  {
    absl::MutexLock lock(&mu_);
    event.sequence = ++published_;
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
      if ((*it)->Offer(event, capacity_)) {
        ++it;
        continue;
      }
      ++dropped_total_;
      OCID_LOG(kWarn) << "events: dropped a subscriber " << capacity_
                      << " events behind (it reconnects and relists)";
      it = subscriptions_.erase(it);
    }
  }
  RunHook();
}

void EventBus::SetOnPublish(std::function<void()> hook) {
  std::function<void()> replaced;  // destroyed unlocked
  absl::MutexLock lock(&hook_mu_);
  replaced = std::exchange(on_publish_, std::move(hook));
}

void EventBus::RunHook() {
  absl::MutexLock lock(&hook_mu_);
  if (on_publish_) on_publish_();
}

std::unique_ptr<EventBus::Subscription> EventBus::Subscribe() {
  std::unique_ptr<Subscription> subscription(new Subscription(*this));
  absl::MutexLock lock(&mu_);
  if (closed_) {
    subscription->Finish(Subscription::Ending::kClosed);
  } else {
    subscriptions_.insert(subscription.get());
  }
  return subscription;
}

void EventBus::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (Subscription* subscription : subscriptions_)
      subscription->Finish(Subscription::Ending::kClosed);
    subscriptions_.clear();
  }
  RunHook();
}

bool EventBus::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

uint64_t EventBus::dropped_total() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

size_t EventBus::subscribers() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

void EventBus::Unsubscribe(Subscription* subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(subscription);
}

EventBus::Subscription::~Subscription() { bus_.Unsubscribe(this); }

bool EventBus::Subscription::Offer(const LifecycleEvent& event, size_t capacity) {
  absl::MutexLock lock(&mu_);
  if (end_ != Ending::kNone) return false;
  if (queue_.size() >= capacity) {
    // What it has not read is dropped with it: it must relist anyway.
    queue_.clear();
    end_ = Ending::kOverflowed;
    return false;
  }
  queue_.push_back(event);
  return true;
}

void EventBus::Subscription::Finish(Ending why) {
  absl::MutexLock lock(&mu_);
  if (end_ == Ending::kNone) end_ = why;
}

std::optional<LifecycleEvent> EventBus::Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || end_ != Ending::kNone;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  LifecycleEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

std::optional<LifecycleEvent> EventBus::Subscription::TryNext(size_t* left) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) {
    if (left != nullptr) *left = 0;
    return std::nullopt;
  }
  LifecycleEvent event = std::move(queue_.front());
  queue_.pop_front();
  if (left != nullptr) *left = queue_.size();
  return event;
}

size_t EventBus::Subscription::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

EventBus::Subscription::Ending EventBus::Subscription::ended() const {
  absl::MutexLock lock(&mu_);
  return queue_.empty() ? end_ : Ending::kNone;
}

}  // namespace ocid
