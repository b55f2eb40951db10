// Image layers unpacked once each, keyed by chain ID so images share them,
// and overlay root filesystems made of them.
//   <root>/<chain hex>/diff        the layer's files (an overlay lower dir)
//   <root>/<chain hex>/layer.json  its record, written last: a layer without
//                                  one is incomplete and removed on Open
// Its records follow the rules of every record (record_json.h: versioned,
// missing keys read as defaults) and load through ReadRecordFiles, but are
// not a RecordStore: a record is published by renaming its layer's dir into
// place, with the files it describes, not by writing <root>/<id>.json.
#ifndef OCID_PKG_STORAGE_LAYER_STORE_H_
#define OCID_PKG_STORAGE_LAYER_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/fs.h"
#include "pkg/storage/digest.h"
#include "pkg/storage/lease.h"

namespace ocid {

struct LayerRecord {
  Digest chain_id;
  Digest diff_id;
  std::string parent;  // parent chain ID, "" for a base layer
  int64_t unpacked_size = 0;
};

class LayerStore {
 public:
  static absl::StatusOr<std::unique_ptr<LayerStore>> Open(const std::string& root);

  // chain(L0) = diff(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln)).
  static Digest ChainId(const std::optional<Digest>& parent_chain, const Digest& diff_id);

  std::optional<LayerRecord> Get(const Digest& chain_id) const;
  std::vector<LayerRecord> List() const;

  // Unpacks the layer blob open at `blob_fd` (tar, gzip or zstd) as
  // `chain_id`, unless it is there already. What is unpacked must hash to
  // `diff_id` (from the image config), else DataLoss and nothing is kept.
  // Concurrent calls for one chain ID unpack it once; a call for a layer
  // being deleted waits for the deletion, then unpacks it again.
  absl::StatusOr<LayerRecord> Create(const Digest& chain_id, const std::string& parent,
                                     const Digest& diff_id, int blob_fd);

  // Idempotent; leases do not stop it.
  absl::Status Delete(const Digest& chain_id);

  // A hold on `chain_id`, unpacked or about to be: Collect never deletes a
  // leased layer. A pull takes it before asking Get.
  Lease LeaseLayer(const Digest& chain_id);
  // Every layer, for as long as another process unpacks into the store
  // (LeaseTable::TakeAll). Returns once no deletion is under way either: a
  // collection unmarks a layer before its files go, and the other process
  // sees only the files.
  Lease LeaseAll();
  // Learns the layers another process (ocid-pull) put in place and removes
  // the temp dirs of its unpacks cut short. Only while nothing unpacks into
  // the store in this process or another.
  absl::Status Rescan();
  // Deletes every layer that no lease holds and that `referenced()` (called
  // once, after the unleased layers are marked, with no lock of this store
  // held) does not name. A layer deleted is gone from Get before its lease
  // mark is dropped, so a lease taken meanwhile waits and then sees it gone.
  absl::Status Collect(const std::function<std::set<std::string>()>& referenced);

  std::string DiffDir(const Digest& chain_id) const;

  // Mounts an overlay at `target`: `layers` (bottom first) read-only below
  // `upper`/`work` (dirs on the same file system as each other). Any number
  // of layers: each lower dir is added on its own (new mount API), so the
  // one-page limit on mount options does not apply. A `mount_label` other
  // than "" is the overlay's SELinux context= (refused where SELinux is off).
  //
  // With `idmap` (a pod user namespace), each layer is added as an idmapped
  // clone of its dir (open_tree + mount_setattr MOUNT_ATTR_IDMAP with that
  // namespace, passed by fd as lowerdir+), so that the layers' files, owned
  // by host 0.., are owned by 0.. inside the namespace while nothing on disk
  // changes; `upper` is given to idmap->upper_uid/gid (the namespace's
  // root), and is not idmapped, so what the container makes is owned on disk
  // by the host ids it maps to. (This kernel refuses an idmap of the overlay
  // mount itself: EINVAL.) A host that cannot idmap a layer's file system,
  // or whose overlayfs takes no layer by fd, is FailedPrecondition saying
  // which, with nothing mounted.
  struct Idmap {
    std::string userns_path;  // a pinned user namespace
    uint32_t upper_uid = 0;
    uint32_t upper_gid = 0;
  };
  absl::StatusOr<ScopedMount> Mount(const std::vector<Digest>& layers, const std::string& upper,
                                    const std::string& work, const std::string& target,
                                    const Idmap* idmap = nullptr,
                                    const std::string& mount_label = "") const;

 private:
  explicit LayerStore(std::string root) : root_(std::move(root)) {}
  absl::Status Load();
  // Load and Rescan: learns the layers on disk that layers_ lacks; a broken
  // entry is removed when `remove_broken`, else skipped.
  absl::Status Scan(bool remove_broken);
  absl::StatusOr<LayerRecord> Unpack(const Digest& chain_id, const std::string& parent,
                                     const Digest& diff_id, int blob_fd);
  // Deletes the files of a layer already taken out of layers_ and put in
  // deleting_, then drops it from deleting_.
  absl::Status DeleteFiles(const Digest& chain_id);

  const std::string root_;
  mutable absl::Mutex mu_;
  std::map<std::string, LayerRecord> layers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unpacking_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> deleting_ ABSL_GUARDED_BY(mu_);
  LeaseTable leases_;  // its own mutex, never taken under mu_
  // One collection at a time, taken before all others: two at once could
  // each leave a key to the other, which had decided on older references.
  absl::Mutex collect_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_LAYER_STORE_H_
