#include "pkg/base/keyed_mutex.h"

namespace ocid {

KeyedMutex::Lock::~Lock() {
  if (owner_ != nullptr) owner_->Release(key_, shared_);
}

// The key's entry, counted as used until Release.
KeyedMutex::Entry* KeyedMutex::Enter(const std::string& key) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Entry>& slot = entries_[key];
  if (slot == nullptr) slot = std::make_unique<Entry>();
  ++slot->users;  // keeps the entry alive while we wait for it
  return slot.get();
}

KeyedMutex::Lock KeyedMutex::Acquire(const std::string& key) {
  Enter(key)->mu.Lock();
  return Lock(this, key, /*shared=*/false);
}

KeyedMutex::Lock KeyedMutex::AcquireShared(const std::string& key) {
  Enter(key)->mu.ReaderLock();
  return Lock(this, key, /*shared=*/true);
}

void KeyedMutex::Release(const std::string& key, bool shared) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (shared) {
    it->second->mu.ReaderUnlock();
  } else {
    it->second->mu.Unlock();
  }
  if (--it->second->users == 0) entries_.erase(it);
}

size_t KeyedMutex::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace ocid
