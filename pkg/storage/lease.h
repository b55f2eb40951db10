// Leases: holds on things in the stores (an image, a layer, a blob) that
// removals and garbage collection respect. A pull leases what it fetches
// until its image record is published; a container leases its image.
#ifndef OCID_PKG_STORAGE_LEASE_H_
#define OCID_PKG_STORAGE_LEASE_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

// One hold, released when destroyed (or Reset). Move-only.
class Lease {
 public:
  Lease() = default;  // holds nothing
  // `release` runs once, when the lease ends. Stores make leases; so may
  // fakes in tests.
  explicit Lease(std::function<void()> release) : release_(std::move(release)) {}
  ~Lease() { Reset(); }
  Lease(Lease&& other) noexcept : release_(std::move(other.release_)) { other.release_ = nullptr; }
  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      Reset();
      release_ = std::move(other.release_);
      other.release_ = nullptr;
    }
    return *this;
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  bool held() const { return release_ != nullptr; }
  void Reset() {
    if (release_ == nullptr) return;
    std::function<void()> release = std::move(release_);
    release_ = nullptr;
    release();
  }

 private:
  std::function<void()> release_;
};

// The leases on a store's keys (chain IDs, digests), and the keys a
// collection is deciding about. A collection marks the keys no lease holds,
// decides, deletes, then unmarks; Take waits while its key is marked, so a
// lease is either taken before the mark (and the key is kept) or after the
// deletion (and the holder sees the key gone). Its mutex is a leaf: never
// held while the owner's is.
class LeaseTable {
 public:
  LeaseTable() = default;
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // The table must outlive the lease.
  Lease Take(const std::string& key);
  // A lease on every key, present and future: while one is held no key is
  // marked. Waits for the keys a collection marked before it to be decided.
  // For a pull done by another process (ocid-pull), whose keys ocid learns
  // only once it has made them.
  Lease TakeAll();
  bool Held(const std::string& key) const;
  // Marks those of `keys` that no lease holds, and returns them.
  std::vector<std::string> Mark(const std::vector<std::string>& keys);
  void Unmark(const std::string& key);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> holders_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> marked_ ABSL_GUARDED_BY(mu_);
  int all_holders_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_LEASE_H_
