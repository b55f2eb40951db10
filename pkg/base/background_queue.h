// Runs tasks one at a time, in the order given, on a thread that exists
// only while there are tasks: work that comes in bursts (one per container
// created) gets off its caller's path without an idle thread kept for it.
// The destructor runs what is still queued, then joins the thread.
#ifndef OCID_PKG_BASE_BACKGROUND_QUEUE_H_
#define OCID_PKG_BASE_BACKGROUND_QUEUE_H_

#include <deque>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

class BackgroundQueue {
 public:
  // `thread_name`: at most 15 characters (the kernel's limit).
  explicit BackgroundQueue(std::string thread_name) : thread_name_(std::move(thread_name)) {}
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  // Queues `task`, starting the thread if it is not running.
  void Run(absl::AnyInvocable<void() &&> task);
  // Returns once every task queued before the call has run.
  void Drain();
  // Whether a thread is running now (tests).
  bool running() const;

 private:
  void Loop();

  const std::string thread_name_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;  // a thread takes tasks
  bool busy_ ABSL_GUARDED_BY(mu_) = false;     // and runs one now
  std::thread thread_ ABSL_GUARDED_BY(mu_);    // the running one, or the last
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_BACKGROUND_QUEUE_H_
