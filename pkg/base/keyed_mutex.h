// One reader/writer mutex per key (a pod or container ID), made on first
// use and dropped when nobody holds or waits for it: calls on one object are
// serialised, calls on different objects are not. Shared holders of one key
// run together but exclude an exclusive one (CreateContainer calls in one
// pod, against RemovePodSandbox).
#ifndef OCID_PKG_BASE_KEYED_MUTEX_H_
#define OCID_PKG_BASE_KEYED_MUTEX_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

class KeyedMutex {
 public:
  // Holds the key's mutex until destroyed (movable, not copyable).
  class Lock {
   public:
    Lock(Lock&& other) noexcept
        : owner_(other.owner_), key_(std::move(other.key_)), shared_(other.shared_) {
      other.owner_ = nullptr;
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    Lock& operator=(Lock&&) = delete;
    ~Lock();

   private:
    friend class KeyedMutex;
    Lock(KeyedMutex* owner, std::string key, bool shared)
        : owner_(owner), key_(std::move(key)), shared_(shared) {}
    KeyedMutex* owner_;
    std::string key_;
    bool shared_;
  };

  KeyedMutex() = default;
  KeyedMutex(const KeyedMutex&) = delete;
  KeyedMutex& operator=(const KeyedMutex&) = delete;

  // Blocks until `key` is free. Not reentrant: a thread holding `key` that
  // asks for it again deadlocks.
  [[nodiscard]] Lock Acquire(const std::string& key);
  // Blocks while `key` is held exclusively.
  [[nodiscard]] Lock AcquireShared(const std::string& key);

  // How many keys have a mutex now (for tests: entries do not pile up).
  size_t size() const;

 private:
  struct Entry {
    absl::Mutex mu;
    int users = 0;  // holders and waiters
  };
  Entry* Enter(const std::string& key);
  void Release(const std::string& key, bool shared);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_KEYED_MUTEX_H_
