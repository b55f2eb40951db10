#include "pkg/storage/lease.h"

namespace ocid {

Lease LeaseTable::Take(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto unmarked = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !marked_.count(key); };
  mu_.Await(absl::Condition(&unmarked));
  ++holders_[key];
  return Lease([this, key] {
    absl::MutexLock lock(&mu_);
    auto it = holders_.find(key);
    if (it != holders_.end() && --it->second <= 0) holders_.erase(it);
  });
}

Lease LeaseTable::TakeAll() {
  absl::MutexLock lock(&mu_);
  auto unmarked = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return marked_.empty(); };
  mu_.Await(absl::Condition(&unmarked));
  ++all_holders_;
  return Lease([this] {
    absl::MutexLock lock(&mu_);
    --all_holders_;
  });
}

bool LeaseTable::Held(const std::string& key) const {
  absl::ReaderMutexLock lock(&mu_);
  return all_holders_ > 0 || holders_.count(key) > 0;
}

std::vector<std::string> LeaseTable::Mark(const std::vector<std::string>& keys) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> marked;
  if (all_holders_ > 0) return marked;
  for (const std::string& key : keys) {
    if (holders_.count(key) || marked_.count(key)) continue;  // held, or another collection's
    marked_.insert(key);
    marked.push_back(key);
  }
  return marked;
}

void LeaseTable::Unmark(const std::string& key) {
  absl::MutexLock lock(&mu_);
  marked_.erase(key);
}

}  // namespace ocid
