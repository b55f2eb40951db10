#include "pkg/base/background_queue.h"

#include <pthread.h>

#include <utility>

namespace ocid {

BackgroundQueue::~BackgroundQueue() {
  Drain();
  std::thread last;
  {
    absl::MutexLock lock(&mu_);
    last = std::move(thread_);
  }
  if (last.joinable()) last.join();
}

void BackgroundQueue::Run(absl::AnyInvocable<void() &&> task) {
  std::thread finished;  // the last thread, which has left its loop
  {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
    if (running_) return;
    running_ = true;
    finished = std::exchange(thread_, std::thread([this] { Loop(); }));
  }
  if (finished.joinable()) finished.join();
}

void BackgroundQueue::Drain() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return tasks_.empty() && !busy_; };
  mu_.Await(absl::Condition(&idle));
}

bool BackgroundQueue::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void BackgroundQueue::Loop() {
  ::pthread_setname_np(::pthread_self(), thread_name_.c_str());
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (tasks_.empty()) {
        running_ = false;  // the next Run starts a thread and joins this one
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
    }
    std::move(task)();
  }
}

}  // namespace ocid
