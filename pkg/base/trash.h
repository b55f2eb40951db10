// Trees removed off their caller's path: Discard renames a tree into the
// trash dir (one rename, atomic) and a background thread deletes it, so a
// RemoveContainer does not wait for an unlink per file of a writable layer.
// A crash leaves the trash to the next ocid, whose Open deletes what is in
// it. The dir must be on the filesystem of what is discarded into it.
#ifndef OCID_PKG_BASE_TRASH_H_
#define OCID_PKG_BASE_TRASH_H_

#include <string>

#include "absl/status/status.h"
#include "pkg/base/background_queue.h"

namespace ocid {

class Trash {
 public:
  explicit Trash(std::string dir) : dir_(std::move(dir)) {}

  // Makes the dir, and queues the removal of what a previous ocid left in it.
  absl::Status Open();
  // Moves `path` into the trash and queues its removal; OK if it is gone
  // already. A tree that cannot be moved (another filesystem, say) is
  // removed here instead.
  absl::Status Discard(const std::string& path);
  // Returns once everything discarded before the call is removed.
  void Drain() { queue_.Drain(); }

 private:
  void RemoveLater(std::string path);

  const std::string dir_;
  BackgroundQueue queue_{"ocid-trash"};
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_TRASH_H_
