// A locked, persisted index of records (pods, containers): each record is
// <dir>/<id>.json, written atomically on every change. Get() returns a copy;
// Update() changes a record and persists it before the change is visible to
// others. Add is durable (file and dir fsynced: an object's intent survives
// a power loss, so what it makes can be undone); Update is as durable as the
// store was made with: kDurable, or kOldOrNew (no fsync of the dir, so a
// power loss leaves the old record or the new one, never a torn one) for
// stores whose updates record the state of what a power loss ends anyway.
//
// Locking: the file of a change is written and fsynced holding only that
// record's writer lock, so readers (List, Get, ForEach) never wait on a disk
// flush; the change is then published under the store's mutex. The writer
// lock serialises Add, Update and Remove of one ID, so concurrent updates of
// a record each see the one before and are published in the order they were
// written. Lock order: a writer lock, then mu_.
//
// Record needs: `std::string id;`, `std::string Serialize() const;` and
// `static absl::StatusOr<Record> Parse(const std::string&);`; a record that
// can be marked for removal (MarkRemoving) also `bool removing;`.
#ifndef OCID_PKG_BASE_RECORD_STORE_H_
#define OCID_PKG_BASE_RECORD_STORE_H_

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pkg/base/fs.h"
#include "pkg/base/record_files.h"
#include "pkg/base/unique_fd.h"

namespace ocid {

template <typename Record, typename = void>
struct HasRemovingMark : std::false_type {};
template <typename Record>
struct HasRemovingMark<Record, std::void_t<decltype(std::declval<Record&>().removing = true)>>
    : std::true_type {};

template <typename Record>
class RecordStore {
 public:
  explicit RecordStore(std::string dir, Durability updates = Durability::kDurable)
      : dir_(std::move(dir)), updates_(updates) {}

  // Reads every record in the dir (creating it if missing). A record that
  // does not parse is an error naming its file.
  absl::Status Load() {
    RecordDirLayout layout;
    layout.suffix = ".json";
    layout.max_bytes = kMaxRecordBytes;
    absl::StatusOr<std::vector<RecordFile>> files = ReadRecordFiles(dir_, layout);
    if (!files.ok()) return files.status();
    std::map<std::string, Record> loaded;
    for (const RecordFile& file : *files) {
      if (!file.text.ok()) return file.text.status();
      absl::StatusOr<Record> record = Record::Parse(*file.text);
      if (!record.ok()) {
        return absl::DataLossError(absl::StrCat(file.path, ": ", record.status().message()));
      }
      loaded[record->id] = *std::move(record);
    }
    if constexpr (HasRemovingMark<Record>::value) {
      absl::Status marks = LoadRemovingMarks(loaded);
      if (!marks.ok()) return marks;
    }
    absl::MutexLock lock(&mu_);
    records_ = std::move(loaded);
    return absl::OkStatus();
  }

  // AlreadyExists if the ID is taken.
  absl::Status Add(const Record& record) {
    WriterLock writer(this, record.id);
    {
      absl::ReaderMutexLock lock(&mu_);
      if (records_.count(record.id)) {
        return absl::AlreadyExistsError(absl::StrCat("ID ", record.id, " is taken"));
      }
    }
    absl::Status persisted = Persist(record, Durability::kDurable);
    if (!persisted.ok()) return persisted;
    absl::MutexLock lock(&mu_);
    records_[record.id] = record;
    return absl::OkStatus();
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

  // Applies `change` to a copy of the newest record and persists it;
  // NotFound for an unknown ID. The stored record changes only once the file
  // is written. `change` runs without the store's mutex (it may read the
  // store) but holding the record's writer lock: it must not Add, Update or
  // Remove the same ID.
  absl::StatusOr<Record> Update(const std::string& id, const std::function<void(Record&)>& change) {
    WriterLock writer(this, id);
    Record updated;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = records_.find(id);
      if (it == records_.end()) return absl::NotFoundError(absl::StrCat("no record ", id));
      updated = it->second;
    }
    change(updated);
    absl::Status persisted = Persist(updated, updates_);
    if (!persisted.ok()) return persisted;
    absl::MutexLock lock(&mu_);
    // Still there: a Remove of this ID waits for our writer lock.
    records_[id] = updated;
    return updated;
  }

  // Sets `removing` on the record, as an empty <id>.removing beside its
  // file (Load reads it back): a removal begun is finished after a crash.
  // Not a rewrite of the record, and not fsynced: an empty file cannot be
  // torn, and a mark that a power loss drops leaves the record as it was,
  // for the client's retry to remove. NotFound for an unknown ID.
  absl::Status MarkRemoving(const std::string& id) {
    static_assert(HasRemovingMark<Record>::value, "the record has no `bool removing`");
    WriterLock writer(this, id);
    {
      absl::ReaderMutexLock lock(&mu_);
      if (records_.count(id) == 0) return absl::NotFoundError(absl::StrCat("no record ", id));
    }
    std::string mark = MarkPath(id);
    UniqueFd fd(::open(mark.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, "create " + mark);
    absl::MutexLock lock(&mu_);
    records_[id].removing = true;
    return absl::OkStatus();
  }

  // Idempotent.
  absl::Status Remove(const std::string& id) {
    WriterLock writer(this, id);
    std::string path = absl::StrCat(dir_, "/", id, ".json");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, "remove " + path);
    }
    // After the record: a mark left alone by a crash here is dropped by Load.
    if constexpr (HasRemovingMark<Record>::value) ::unlink(MarkPath(id).c_str());
    absl::MutexLock lock(&mu_);
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

  // One per ID with a change in flight; dropped when its last user leaves.
  struct Writer {
    absl::Mutex mu;
    int users = 0;  // guarded by the store's mu_
  };

  // Holds the writer lock of one ID for the scope. Waits for it without
  // holding mu_, so readers and writers of other IDs go on.
  class WriterLock {
   public:
    WriterLock(RecordStore* store, const std::string& id) : store_(store), id_(id) {
      {
        absl::MutexLock lock(&store_->mu_);
        std::unique_ptr<Writer>& writer = store_->writers_[id_];
        if (writer == nullptr) writer = std::make_unique<Writer>();
        ++writer->users;
        writer_ = writer.get();
      }
      writer_->mu.Lock();
    }
    ~WriterLock() {
      writer_->mu.Unlock();
      absl::MutexLock lock(&store_->mu_);
      if (--writer_->users == 0) store_->writers_.erase(id_);
    }
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

   private:
    RecordStore* const store_;
    const std::string id_;
    Writer* writer_;
  };

  static constexpr char kRemovingSuffix[] = ".removing";

  std::string MarkPath(const std::string& id) const {
    return absl::StrCat(dir_, "/", id, kRemovingSuffix);
  }

  // Sets `removing` on each loaded record with a mark; removes marks whose
  // record is gone.
  absl::Status LoadRemovingMarks(std::map<std::string, Record>& loaded) const {
    absl::StatusOr<std::vector<std::string>> names = ListDir(dir_);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (!absl::EndsWith(name, kRemovingSuffix)) continue;
      auto it = loaded.find(name.substr(0, name.size() - (sizeof(kRemovingSuffix) - 1)));
      if (it != loaded.end()) {
        it->second.removing = true;
      } else {
        ::unlink(absl::StrCat(dir_, "/", name).c_str());
      }
    }
    return absl::OkStatus();
  }

  absl::Status Persist(const Record& record, Durability durability) const {
    return WriteFileAtomically(absl::StrCat(dir_, "/", record.id, ".json"), record.Serialize(),
                               0600, durability);
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
  const Durability updates_;
  mutable absl::Mutex mu_;
  std::map<std::string, Record> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Writer>> writers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_RECORD_STORE_H_
