#include "pkg/base/keyed_mutex.h"

namespace ocid {

KeyedMutex::Lock::~Lock() {
  if (owner_ != nullptr) owner_->Release(key_);
}

KeyedMutex::Lock KeyedMutex::Acquire(const std::string& key) {
  Entry* entry;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Entry>& slot = entries_[key];
    if (slot == nullptr) slot = std::make_unique<Entry>();
    entry = slot.get();
    ++entry->users;  // keeps the entry alive while we wait for it
  }
  entry->mu.Lock();
  return Lock(this, key);
}

void KeyedMutex::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  it->second->mu.Unlock();
  if (--it->second->users == 0) entries_.erase(it);
}

size_t KeyedMutex::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace ocid
