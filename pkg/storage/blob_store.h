// A content-addressed blob store: blobs/sha256/<hex> under its root. A blob
// becomes visible only once complete and verified (written under ingest/,
// hashed while written, then renamed into place).
#ifndef OCID_PKG_STORAGE_BLOB_STORE_H_
#define OCID_PKG_STORAGE_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/unique_fd.h"
#include "pkg/storage/digest.h"
#include "pkg/storage/lease.h"

namespace ocid {

class BlobStore {
 public:
  // Creates the dirs under `root` and removes partial blobs an interrupted
  // pull left in ingest/.
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& root);

  // Streams one blob in; see NewWriter.
  class Writer {
   public:
    ~Writer();  // not committed: the partial file is removed
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Appends; OutOfRange once more than the expected size arrives.
    absl::Status Write(absl::string_view chunk);
    // Drops what was written (the sender starts over).
    absl::Status Restart();
    int64_t written() const { return written_; }
    // Checks size and digest, then makes the blob visible. On a mismatch the
    // data is discarded and the error names both digests.
    absl::Status Commit();

   private:
    friend class BlobStore;
    Writer(BlobStore& store, Digest expected, int64_t expected_size, std::string temp_path,
           UniqueFd fd);

    BlobStore& store_;
    Digest expected_;
    int64_t expected_size_;
    std::string temp_path_;
    UniqueFd fd_;
    std::unique_ptr<Sha256> hasher_;
    int64_t written_ = 0;
    bool committed_ = false;
  };

  // `expected_size` < 0 means unknown.
  absl::StatusOr<std::unique_ptr<Writer>> NewWriter(const Digest& expected,
                                                    int64_t expected_size);
  // Writes a small blob held in memory (manifests, configs).
  absl::Status WriteBlob(const Digest& expected, absl::string_view data);

  bool Has(const Digest& digest) const;
  std::string PathOf(const Digest& digest) const;
  absl::StatusOr<UniqueFd> OpenBlob(const Digest& digest) const;
  absl::StatusOr<std::string> ReadBlob(const Digest& digest, size_t max_bytes) const;
  // Idempotent; leases do not stop it (a pull drops its own layer blobs).
  absl::Status Delete(const Digest& digest);

  // A hold on `digest`, present or about to be fetched: Collect never
  // deletes a leased blob. Take it before asking Has.
  Lease LeaseBlob(const Digest& digest);
  // Every blob, for as long as another process writes to the store
  // (LeaseTable::TakeAll).
  Lease LeaseAll() { return leases_.TakeAll(); }
  // Removes partial downloads. Only while nothing writes blobs: another
  // process's pull that died leaves them (Open does this too).
  absl::Status ClearIngest();
  // Deletes every blob that no lease holds and that `referenced()` (called
  // once, after the unleased blobs are marked, with no lock of this store
  // held) does not name ("sha256:<hex>").
  absl::Status Collect(const std::function<std::set<std::string>()>& referenced);

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}

  std::string root_;
  LeaseTable leases_;
  // One collection at a time: two at once could each leave a key to the
  // other, which had decided on older references.
  absl::Mutex collect_mu_;
};

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_BLOB_STORE_H_
