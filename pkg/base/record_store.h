// A locked, persisted index of records (pods, containers): each record is
// <dir>/<id>.json, written atomically on every change. Get() returns a copy;
// Update() changes a record under the lock and persists it before the change
// is visible to others.
//
// Record needs: `std::string id;`, `std::string Serialize() const;` and
// `static absl::StatusOr<Record> Parse(const std::string&);`.
#ifndef OCID_PKG_BASE_RECORD_STORE_H_
#define OCID_PKG_BASE_RECORD_STORE_H_

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/fs.h"

namespace ocid {

template <typename Record>
class RecordStore {
 public:
  explicit RecordStore(std::string dir) : dir_(std::move(dir)) {}

  // Reads every record in the dir (creating it if missing). A record that
  // does not parse is an error naming its file.
  absl::Status Load() {
    absl::Status made = MakeDirs(dir_, 0700);
    if (!made.ok()) return made;
    DIR* dir = ::opendir(dir_.c_str());
    if (dir == nullptr) return absl::ErrnoToStatus(errno, "open " + dir_);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
      if (absl::EndsWith(entry->d_name, ".json")) names.push_back(entry->d_name);
    }
    ::closedir(dir);
    absl::MutexLock lock(&mu_);
    for (const std::string& name : names) {
      std::string path = absl::StrCat(dir_, "/", name);
      absl::StatusOr<std::string> text = ReadFileToString(path, kMaxRecordBytes);
      if (!text.ok()) return text.status();
      absl::StatusOr<Record> record = Record::Parse(*text);
      if (!record.ok()) {
        return absl::DataLossError(absl::StrCat(path, ": ", record.status().message()));
      }
      records_[record->id] = *record;
    }
    return absl::OkStatus();
  }

  // AlreadyExists if the ID is taken.
  absl::Status Add(const Record& record) {
    absl::MutexLock lock(&mu_);
    if (records_.count(record.id)) {
      return absl::AlreadyExistsError(absl::StrCat("ID ", record.id, " is taken"));
    }
    absl::Status persisted = Persist(record);
    if (persisted.ok()) records_[record.id] = record;
    return persisted;
  }

  // By full ID or a unique ID prefix.
  std::optional<Record> Get(const std::string& id_or_prefix) const {
    absl::ReaderMutexLock lock(&mu_);
    const Record* found = FindLocked(id_or_prefix);
    if (found == nullptr) return std::nullopt;
    return *found;
  }

  std::vector<Record> List() const {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<Record> records;
    for (const auto& [id, record] : records_) records.push_back(record);
    return records;
  }

  // Calls `visit` for each record under the read lock: no copies, for the
  // list calls. `visit` must not call back into the store.
  void ForEach(const std::function<void(const Record&)>& visit) const {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, record] : records_) visit(record);
  }

  // Applies `change` to a copy and persists it; NotFound for an unknown ID.
  // The stored record changes only once the file is written.
  absl::StatusOr<Record> Update(const std::string& id, const std::function<void(Record&)>& change) {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return absl::NotFoundError(absl::StrCat("no record ", id));
    Record updated = it->second;
    change(updated);
    absl::Status persisted = Persist(updated);
    if (!persisted.ok()) return persisted;
    it->second = updated;
    return updated;
  }

  // Idempotent.
  absl::Status Remove(const std::string& id) {
    absl::MutexLock lock(&mu_);
    std::string path = absl::StrCat(dir_, "/", id, ".json");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, "remove " + path);
    }
    records_.erase(id);
    return absl::OkStatus();
  }

  // Blocks until `done(record)` holds for `id` (or the record is gone) or
  // `timeout` passes; returns whether it holds.
  bool WaitFor(const std::string& id, const std::function<bool(const Record&)>& done,
               absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = records_.find(id);
      return it == records_.end() || done(it->second);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
  }

 private:
  static constexpr size_t kMaxRecordBytes = 4 << 20;

  absl::Status Persist(const Record& record) const {
    return WriteFileAtomically(absl::StrCat(dir_, "/", record.id, ".json"), record.Serialize(),
                               0600);
  }

  const Record* FindLocked(const std::string& id_or_prefix) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (id_or_prefix.empty()) return nullptr;
    auto exact = records_.find(id_or_prefix);
    if (exact != records_.end()) return &exact->second;
    const Record* found = nullptr;
    for (auto it = records_.lower_bound(id_or_prefix);
         it != records_.end() && absl::StartsWith(it->first, id_or_prefix); ++it) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = &it->second;
    }
    return found;
  }

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, Record> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_RECORD_STORE_H_
