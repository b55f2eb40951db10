#include "pkg/storage/layer_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/crash_point.h"
#include "pkg/base/idmapped_mount.h"
#include "pkg/base/record_files.h"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/storage/layer_apply.h"

namespace ocid {
namespace {

constexpr size_t kMaxRecordBytes = 64 * 1024;

std::string RecordToJson(const LayerRecord& record) {
  return nlohmann::json{{"version", kRecordVersion},
                        {"chain_id", record.chain_id.String()},
                        {"diff_id", record.diff_id.String()},
                        {"parent", record.parent},
                        {"unpacked_size", record.unpacked_size}}
      .dump();
}

// Missing keys keep the defaults (record_json.h); the chain ID (it names the
// layer) and the diff ID (what its files hash to) are required: a layer
// without them is unpacked again rather than trusted.
absl::StatusOr<LayerRecord> RecordFromJson(const std::string& text) {
  ASSIGN_OR_RETURN(RecordReader in, RecordReader::Parse(text, "layer"));
  std::string chain_id, diff_id;
  LayerRecord record;
  in.Require("chain_id", chain_id);
  in.Require("diff_id", diff_id);
  in.Read("parent", record.parent);
  in.Read("unpacked_size", record.unpacked_size);
  RETURN_IF_ERROR(in.status());
  ASSIGN_OR_RETURN(record.chain_id, ParseDigest(chain_id));
  ASSIGN_OR_RETURN(record.diff_id, ParseDigest(diff_id));
  return record;
}

absl::Status FsConfig(int fs_fd, const char* key, const std::string& value) {
  if (::fsconfig(fs_fd, FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("overlay option ", key, "=", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LayerStore>> LayerStore::Open(const std::string& root) {
  RETURN_IF_ERROR(MakeDirs(root, 0700));
  std::unique_ptr<LayerStore> store(new LayerStore(root));
  RETURN_IF_ERROR(store->Load());
  return store;
}

absl::Status LayerStore::Load() { return Scan(/*remove_broken=*/true); }

absl::Status LayerStore::Rescan() { return Scan(/*remove_broken=*/false); }

absl::Status LayerStore::Scan(bool remove_broken) {
  // An unpack cut short leaves only its hidden temp dir: start it over.
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(root_));
  for (const std::string& name : names) {
    if (absl::StartsWith(name, ".unpack-")) RETURN_IF_ERROR(RemoveAll(root_ + "/" + name));
  }
  RecordDirLayout layout;
  layout.file_in_entry = "layer.json";
  layout.max_bytes = kMaxRecordBytes;
  ASSIGN_OR_RETURN(std::vector<RecordFile> files, ReadRecordFiles(root_, layout));
  absl::MutexLock lock(&mu_);
  for (const RecordFile& file : files) {
    absl::StatusOr<LayerRecord> record = file.text.ok()
                                             ? RecordFromJson(*file.text)
                                             : absl::StatusOr<LayerRecord>(file.text.status());
    if (!record.ok() || record->chain_id.hex != file.entry) {
      // A layer whose record was never written (or a stray entry): removed
      // at start, so that the next pull unpacks it again; a rescan leaves
      // it to the next start.
      if (remove_broken) RETURN_IF_ERROR(RemoveAll(absl::StrCat(root_, "/", file.entry)));
      continue;
    }
    const std::string key = record->chain_id.String();
    if (deleting_.count(key) || unpacking_.count(key)) continue;
    layers_.emplace(key, *record);
  }
  return absl::OkStatus();
}

Digest LayerStore::ChainId(const std::optional<Digest>& parent_chain, const Digest& diff_id) {
  if (!parent_chain.has_value()) return diff_id;
  return Sha256Of(absl::StrCat(parent_chain->String(), " ", diff_id.String()));
}

std::string LayerStore::DiffDir(const Digest& chain_id) const {
  return absl::StrCat(root_, "/", chain_id.hex, "/diff");
}

std::optional<LayerRecord> LayerStore::Get(const Digest& chain_id) const {
  absl::MutexLock lock(&mu_);
  auto it = layers_.find(chain_id.String());
  if (it == layers_.end()) return std::nullopt;
  return it->second;
}

std::vector<LayerRecord> LayerStore::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<LayerRecord> records;
  for (const auto& [id, record] : layers_) records.push_back(record);
  return records;
}

absl::StatusOr<LayerRecord> LayerStore::Create(const Digest& chain_id, const std::string& parent,
                                               const Digest& diff_id, int blob_fd) {
  const std::string key = chain_id.String();
  {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !unpacking_.count(key) && !deleting_.count(key);
    };
    mu_.Await(absl::Condition(&ready));
    auto it = layers_.find(key);
    if (it != layers_.end()) return it->second;
    unpacking_.insert(key);
  }
  absl::StatusOr<LayerRecord> record = Unpack(chain_id, parent, diff_id, blob_fd);
  absl::MutexLock lock(&mu_);
  unpacking_.erase(key);
  if (record.ok()) layers_[key] = *record;
  return record;
}

// Unpacks into a temp dir and renames it into place once the diff ID matches
// and the record is written: a crash leaves only a temp dir, removed on Open.
absl::StatusOr<LayerRecord> LayerStore::Unpack(const Digest& chain_id, const std::string& parent,
                                               const Digest& diff_id, int blob_fd) {
  std::string temp = absl::StrCat(root_, "/.unpack-", chain_id.hex, "-XXXXXX");
  if (::mkdtemp(temp.data()) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp " + temp);
  absl::Cleanup remove_temp = [&temp] { RemoveAll(temp).IgnoreError(); };
  RETURN_IF_ERROR(MakeDirs(temp + "/diff", 0755));

  ASSIGN_OR_RETURN(AppliedLayer applied, ApplyLayer(blob_fd, temp + "/diff"));
  if (applied.diff_id != diff_id) {
    return absl::DataLossError(absl::StrCat("layer diff ID mismatch: the image config says ",
                                            diff_id.String(), ", the layer unpacks to ",
                                            applied.diff_id.String()));
  }
  LayerRecord record{chain_id, diff_id, parent, applied.unpacked_size};
  RETURN_IF_ERROR(WriteFileAtomically(temp + "/layer.json", RecordToJson(record)));
  CrashPoint("pull_image.layer_unpacked_not_renamed");
  std::string final_dir = absl::StrCat(root_, "/", chain_id.hex);
  if (::rename(temp.c_str(), final_dir.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, "move layer into " + final_dir);
  }
  std::move(remove_temp).Cancel();
  return record;
}

absl::Status LayerStore::Delete(const Digest& chain_id) {
  {
    absl::MutexLock lock(&mu_);
    auto wait = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !unpacking_.count(chain_id.String()) && !deleting_.count(chain_id.String());
    };
    mu_.Await(absl::Condition(&wait));
    layers_.erase(chain_id.String());
    deleting_.insert(chain_id.String());
  }
  return DeleteFiles(chain_id);
}

absl::Status LayerStore::DeleteFiles(const Digest& chain_id) {
  // Drop the record first, so a crash mid-way leaves an incomplete layer that
  // Open removes.
  std::string dir = absl::StrCat(root_, "/", chain_id.hex);
  absl::Status status;
  if (::unlink((dir + "/layer.json").c_str()) != 0 && errno != ENOENT) {
    status = absl::ErrnoToStatus(errno, "remove layer record in " + dir);
  }
  if (status.ok()) status = RemoveAll(dir);
  absl::MutexLock lock(&mu_);
  deleting_.erase(chain_id.String());
  return status;
}

Lease LayerStore::LeaseLayer(const Digest& chain_id) { return leases_.Take(chain_id.String()); }

Lease LayerStore::LeaseAll() {
  Lease all = leases_.TakeAll();  // no collection starts a deletion now
  absl::MutexLock lock(&mu_);
  auto none = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return deleting_.empty(); };
  mu_.Await(absl::Condition(&none));
  return all;
}

absl::Status LayerStore::Collect(const std::function<std::set<std::string>()>& referenced) {
  absl::MutexLock collecting(&collect_mu_);
  std::vector<std::string> stored;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, layer] : layers_) stored.push_back(key);
  }
  std::vector<std::string> marked = leases_.Mark(stored);
  std::set<std::string> keep = referenced();
  absl::Status status;
  for (const std::string& key : marked) {
    bool taken = false;
    if (!keep.count(key)) {
      absl::MutexLock lock(&mu_);
      taken = layers_.erase(key) > 0;  // else a Delete took it meanwhile
      if (taken) deleting_.insert(key);
    }
    leases_.Unmark(key);
    if (taken) status.Update(DeleteFiles(*ParseDigest(key)));
  }
  return status;
}

absl::StatusOr<ScopedMount> LayerStore::Mount(const std::vector<Digest>& layers,
                                              const std::string& upper, const std::string& work,
                                              const std::string& target, const Idmap* idmap,
                                              const std::string& mount_label) const {
  if (layers.empty()) return absl::InvalidArgumentError("an overlay needs at least one layer");
  UniqueFd userns;
  if (idmap != nullptr) {
    userns.Reset(::open(idmap->userns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns.valid()) return absl::ErrnoToStatus(errno, "open " + idmap->userns_path);
  }
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs.valid()) return absl::ErrnoToStatus(errno, "fsopen overlay");
  std::vector<UniqueFd> clones;  // idmapped layers
  // lowerdir+ takes one dir per call, topmost first.
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
    if (!Get(*layer).has_value()) {
      return absl::NotFoundError(absl::StrCat("layer ", layer->String(), " is not in the store"));
    }
    if (idmap == nullptr) {
      RETURN_IF_ERROR(FsConfig(fs.get(), "lowerdir+", DiffDir(*layer)));
      continue;
    }
    ASSIGN_OR_RETURN(UniqueFd clone, IdmappedTree(DiffDir(*layer), userns.get(),
                                                  /*recursive=*/false, "the layer dir"));
    // Kept open until the overlay is made: closing the last fd of a
    // detached mount dissolves it, and overlayfs then fails to clone it.
    clones.push_back(std::move(clone));
    if (::fsconfig(fs.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, clones.back().get()) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("this host's overlayfs takes no idmapped layer by fd (lowerdir+ with "
                       "FSCONFIG_SET_FD), needed for a pod user namespace: ",
                       strerror(errno)));
    }
  }
  if (idmap != nullptr && ::lchown(upper.c_str(), idmap->upper_uid, idmap->upper_gid) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("chown ", upper, " to ", idmap->upper_uid, ":", idmap->upper_gid));
  }
  RETURN_IF_ERROR(FsConfig(fs.get(), "upperdir", upper));
  RETURN_IF_ERROR(FsConfig(fs.get(), "workdir", work));
  if (!mount_label.empty()) RETURN_IF_ERROR(FsConfig(fs.get(), "context", mount_label));
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return absl::ErrnoToStatus(errno, "create overlay for " + target);
  }
  UniqueFd mount_fd(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mount_fd.valid()) return absl::ErrnoToStatus(errno, "fsmount overlay for " + target);
  if (::move_mount(mount_fd.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return absl::ErrnoToStatus(errno, "mount overlay on " + target);
  }
  return ScopedMount(target);
}

}  // namespace ocid
