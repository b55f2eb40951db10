// Images: one record per image ID (its config digest), with the names that
// point at it, persisted by a RecordStore as <root>/<id hex>.json (written
// atomically, versioned, missing keys read as defaults: record_json.h).
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
#include "pkg/base/record_store.h"
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

// The record as stored (and as ocid-pull hands it to ocid), and back:
// InvalidArgument / DataLoss for text that is no image record.
std::string ImageRecordToJson(const ImageRecord& image);
absl::StatusOr<ImageRecord> ImageRecordFromJson(const std::string& text);

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
  // An image as its file holds it: the record type of records_.
  struct StoredImage {
    std::string id;  // the image ID's hex, which names the file
    ImageRecord image;
    std::string Serialize() const;
    static absl::StatusOr<StoredImage> Parse(const std::string& text);
  };

  explicit ImageStore(std::string root) : records_(std::move(root)) {}

  // Put and Remove hold write_mu_ throughout: each reads the images, then
  // changes several records. records_ writes and fsyncs each file before it
  // publishes it under its own mutex, so readers (Find, List, FindAndLease)
  // never wait on a disk flush.
  absl::Mutex write_mu_;
  RecordStore<StoredImage> records_;
  // Leases, and the removals in flight (an image whose lease count was
  // checked and whose record is going). Lock order: write_mu_, mu_, then
  // records_' mutex (FindAndLease finds under mu_).
  mutable absl::Mutex mu_;
  std::map<std::string, int> leases_ ABSL_GUARDED_BY(mu_);  // by ID
  std::set<std::string> removing_ ABSL_GUARDED_BY(mu_);     // by ID
};

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_IMAGE_STORE_H_
