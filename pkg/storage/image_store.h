// Images: one record per image ID (its config digest), with the names that
// point at it, persisted as <root>/<id hex>.json (written atomically).
#ifndef OCID_PKG_STORAGE_IMAGE_STORE_H_
#define OCID_PKG_STORAGE_IMAGE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/storage/digest.h"
#include "pkg/storage/lease.h"

namespace ocid {

struct ImageRecord {
  Digest id;                              // the image config's digest
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:..."
  Digest manifest_digest;
  std::vector<Digest> layers;  // chain IDs, bottom first
  int64_t size = 0;            // unpacked layers + config
  std::string user;            // the config's User ("" = root)
  int64_t pulled_at_nanos = 0;
};

// An image found with a lease on it (ImageStore::FindAndLease).
struct LeasedImage {
  ImageRecord image;
  Lease lease;
};

// What the stored images refer to: what garbage collection keeps.
struct ImageReferences {
  std::set<std::string> layers;  // chain IDs
  std::set<std::string> blobs;   // config and manifest digests
};

class ImageStore {
 public:
  static absl::StatusOr<std::unique_ptr<ImageStore>> Open(const std::string& root);

  // Adds or updates an image. Its tags are taken from any other image that
  // had them (a tag names one image); the names are merged with the ones the
  // image already had.
  absl::Status Put(const ImageRecord& record);

  // By ID ("sha256:<hex>", "<hex>", or an unambiguous hex prefix of at least
  // 3 digits, "sha256:" optional), by repo tag or by repo digest (names fully
  // qualified). An ambiguous prefix finds nothing: IdsWithPrefix tells why.
  std::optional<ImageRecord> Find(const std::string& name_or_id) const;
  // Find, and a lease on the image found, taken under the same lock: a
  // Remove either came first (nothing is found) or refuses the image while
  // the lease is held. The lease must not outlive the store.
  std::optional<LeasedImage> FindAndLease(const std::string& name_or_id);
  // The IDs `prefix` (as Find takes it) matches; empty when it is no ID
  // prefix (too short, or not hex).
  std::vector<Digest> IdsWithPrefix(const std::string& prefix) const;
  std::vector<ImageRecord> List() const;

  // Removes the image `name_or_id` names. Given a tag of an image that has
  // other tags, only that tag goes. Returns the removed record (nullopt when
  // only a tag went, or when nothing matched: removal is idempotent).
  // FailedPrecondition while a lease holds the image (a container uses it).
  // What the image used stays: CollectGarbage (image_gc.h) deletes it.
  absl::StatusOr<std::optional<ImageRecord>> Remove(const std::string& name_or_id);

  ImageReferences References() const;

 private:
  explicit ImageStore(std::string root) : root_(std::move(root)) {}
  absl::Status Load();
  absl::Status Persist(const ImageRecord& record) const;
  const ImageRecord* FindLocked(const std::string& name_or_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::string root_;
  // Put and Remove hold write_mu_ throughout and write and fsync their
  // files under it alone, then publish the change under mu_: readers (Find,
  // List, FindAndLease) never wait on a disk flush. Lock order: write_mu_,
  // mu_.
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_;
  std::map<std::string, ImageRecord> images_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<std::string, int> leases_ ABSL_GUARDED_BY(mu_);          // by id
};

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_IMAGE_STORE_H_
