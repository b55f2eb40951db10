#include "pkg/checkpoint/archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/storage/archive_api.h"
#include "pkg/storage/layer_apply.h"

namespace ocid {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxDumpBytes = 4 << 20;  // config.dump, spec.dump, deleted.files

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

absl::Time ParseRfc3339(const Json& value) {
  absl::Time t = absl::UnixEpoch();
  std::string error;
  if (value.is_string()) absl::ParseTime(absl::RFC3339_full, value.get<std::string>(), &t, &error);
  return t;
}

struct ArchiveWriterDeleter {
  const ArchiveApi* la;
  void operator()(archive* a) const { la->write_free(a); }
};
struct EntryDeleter {
  const ArchiveApi* la;
  void operator()(archive_entry* e) const { la->entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriterDeleter>;
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

absl::Status ArchiveError(const ArchiveApi& la, archive* a, const std::string& what) {
  const char* message = la.error_string(a);
  return absl::InternalError(absl::StrCat(what, ": ", message != nullptr ? message : "failed"));
}

// A pax tar on `fd` (left open).
absl::StatusOr<ArchiveWriter> NewTarWriter(const ArchiveApi& la, int fd) {
  ArchiveWriter writer(la.write_new(), ArchiveWriterDeleter{&la});
  if (writer == nullptr) return absl::ResourceExhaustedError("archive_write_new failed");
  if (la.write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      la.write_add_filter_none(writer.get()) != ARCHIVE_OK ||
      la.write_open_fd(writer.get(), fd) != ARCHIVE_OK) {
    return ArchiveError(la, writer.get(), "opening tar writer");
  }
  return writer;
}

// Adds the file at `path` (not followed if a symlink) as `name`.
absl::Status AddPath(const ArchiveApi& la, archive* writer, const std::string& path,
                     const std::string& name) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "lstat " + path);
  Entry entry(la.entry_new(), EntryDeleter{&la});
  la.entry_copy_stat(entry.get(), &st);
  la.entry_set_pathname(entry.get(), name.c_str());
  if (S_ISLNK(st.st_mode)) {
    std::string target(st.st_size + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return absl::ErrnoToStatus(errno, "readlink " + path);
    target.resize(n);
    la.entry_set_symlink(entry.get(), target.c_str());
    la.entry_set_size(entry.get(), 0);
  } else if (!S_ISREG(st.st_mode)) {
    la.entry_set_size(entry.get(), 0);
  }
  if (la.write_header(writer, entry.get()) != ARCHIVE_OK) {
    return ArchiveError(la, writer, "writing tar header of " + name);
  }
  if (!S_ISREG(st.st_mode)) return absl::OkStatus();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open " + path);
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) return absl::ErrnoToStatus(errno, "read " + path);
    if (n == 0) break;
    if (la.write_data(writer, buffer, n) != n) return ArchiveError(la, writer, "writing " + name);
  }
  return absl::OkStatus();
}

// Calls `visit(relative path, stat)` for every entry below `dir`, parents
// before children, without following symlinks.
absl::Status Walk(
    const std::string& dir, const std::string& prefix,
    const std::function<absl::Status(const std::string&, const struct stat&)>& visit) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    std::string relative = prefix.empty() ? name : prefix + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, "lstat " + path);
    RETURN_IF_ERROR(visit(relative, st));
    if (S_ISDIR(st.st_mode)) RETURN_IF_ERROR(Walk(path, relative, visit));
  }
  return absl::OkStatus();
}

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

absl::StatusOr<Json> ReadJsonMember(const std::string& dir, const char* name) {
  std::string path = dir + "/" + name;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint archive has no ", name));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxDumpBytes));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint archive's ", name, " is not JSON"));
  }
  return json;
}

}  // namespace

std::string CheckpointConfig::ToJson() const {
  Json json = {{"id", id},
               {"name", name},
               {"rootfsImage", rootfs_image},
               {"rootfsImageRef", rootfs_image_ref},
               {"rootfsImageName", rootfs_image_name},
               {"runtime", runtime},
               {"createdTime", FormatRfc3339(created_time)},
               {"checkpointedTime", FormatRfc3339(checkpointed_at)},
               {"restoredTime", FormatRfc3339(absl::UnixEpoch())},
               {"restored", restored}};
  return json.dump(2);
}

absl::StatusOr<CheckpointConfig> CheckpointConfig::FromJson(absl::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::InvalidArgumentError("config.dump is not a JSON object");
  auto text_of = [&](const char* key) {
    auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  CheckpointConfig config;
  config.id = text_of("id");
  config.name = text_of("name");
  config.rootfs_image = text_of("rootfsImage");
  config.rootfs_image_ref = text_of("rootfsImageRef");
  config.rootfs_image_name = text_of("rootfsImageName");
  config.runtime = text_of("runtime");
  if (json.contains("createdTime")) config.created_time = ParseRfc3339(json["createdTime"]);
  if (json.contains("checkpointedTime")) {
    config.checkpointed_at = ParseRfc3339(json["checkpointedTime"]);
  }
  config.restored = json.value("restored", false);
  if (config.id.empty()) return absl::InvalidArgumentError("config.dump names no container id");
  if (config.rootfs_image_name.empty() && config.rootfs_image_ref.empty() &&
      config.rootfs_image.empty()) {
    return absl::InvalidArgumentError("config.dump names no image");
  }
  return config;
}

absl::Status WriteRootfsDiff(const std::string& upper, const std::string& work_dir) {
  ASSIGN_OR_RETURN(const ArchiveApi* la, LoadArchive());
  const std::string tar_path = work_dir + "/" + kRootfsDiffTar;
  UniqueFd out(::open(tar_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return absl::ErrnoToStatus(errno, "create " + tar_path);
  ASSIGN_OR_RETURN(ArchiveWriter writer, NewTarWriter(*la, out.get()));
  std::vector<std::string> deleted;
  RETURN_IF_ERROR(Walk(upper, "", [&](const std::string& relative, const struct stat& st) {
    if (IsWhiteout(st)) {
      deleted.push_back("/" + relative);
      return absl::OkStatus();
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
      return absl::OkStatus();  // sockets, fifos, devices are not carried over
    }
    return AddPath(*la, writer.get(), upper + "/" + relative, relative);
  }));
  if (la->write_close(writer.get()) != ARCHIVE_OK) {
    return ArchiveError(*la, writer.get(), "finishing " + tar_path);
  }
  if (deleted.empty()) return absl::OkStatus();
  return WriteFileAtomically(work_dir + "/" + kDeletedFiles, Json(deleted).dump(),
                             0600, Durability::kVolatile);
}

absl::Status WriteCheckpointArchive(const std::string& work_dir, int out_fd) {
  for (const char* required : {kConfigDump, kSpecDump, kCheckpointDir}) {
    struct stat st;
    if (::lstat((work_dir + "/" + required).c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint of ", work_dir, " has no ", required));
    }
  }
  ASSIGN_OR_RETURN(const ArchiveApi* la, LoadArchive());
  ASSIGN_OR_RETURN(ArchiveWriter writer, NewTarWriter(*la, out_fd));
  for (const char* member : {kConfigDump, kSpecDump, kRootfsDiffTar, kDeletedFiles, "dump.log",
                             "stats-dump", kCheckpointDir}) {
    const std::string path = work_dir + "/" + member;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;  // an optional member
    RETURN_IF_ERROR(AddPath(*la, writer.get(), path, member));
    if (!S_ISDIR(st.st_mode)) continue;
    RETURN_IF_ERROR(Walk(path, member, [&](const std::string& relative, const struct stat& s) {
      if (!S_ISDIR(s.st_mode) && !S_ISREG(s.st_mode)) return absl::OkStatus();
      return AddPath(*la, writer.get(), work_dir + "/" + relative, relative);
    }));
  }
  if (la->write_close(writer.get()) != ARCHIVE_OK) {
    return ArchiveError(*la, writer.get(), "finishing the checkpoint archive");
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointContents> ReadCheckpointArchive(const std::string& path,
                                                         const std::string& dest_dir) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open checkpoint archive " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, "fstat " + path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a checkpoint archive file"));
  }
  // The layer unpacker's rules: every entry below dest_dir, no device nodes.
  absl::StatusOr<AppliedLayer> unpacked = ApplyLayer(fd.get(), dest_dir);
  if (!unpacked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint archive ", path, ": ", unpacked.status().message()));
  }
  CheckpointContents contents;
  ASSIGN_OR_RETURN(Json config, ReadJsonMember(dest_dir, kConfigDump));
  ASSIGN_OR_RETURN(contents.config, CheckpointConfig::FromJson(config.dump()));
  ASSIGN_OR_RETURN(contents.spec, ReadJsonMember(dest_dir, kSpecDump));
  if (!contents.spec.is_object() || !contents.spec.contains("process") ||
      !contents.spec["process"].is_object()) {
    return absl::InvalidArgumentError("checkpoint archive's spec.dump is not an OCI spec");
  }
  struct stat images;
  std::string inventory = absl::StrCat(dest_dir, "/", kCheckpointDir, "/inventory.img");
  if (::lstat(inventory.c_str(), &images) != 0 || !S_ISREG(images.st_mode)) {
    return absl::InvalidArgumentError(
        "checkpoint archive has no CRIU images (checkpoint/inventory.img)");
  }
  struct stat diff;
  std::string diff_path = absl::StrCat(dest_dir, "/", kRootfsDiffTar);
  contents.has_rootfs_diff = ::lstat(diff_path.c_str(), &diff) == 0 && S_ISREG(diff.st_mode);
  std::string deleted_path = absl::StrCat(dest_dir, "/", kDeletedFiles);
  if (::lstat(deleted_path.c_str(), &diff) == 0) {
    ASSIGN_OR_RETURN(Json deleted, ReadJsonMember(dest_dir, kDeletedFiles));
    if (!deleted.is_array()) {
      return absl::InvalidArgumentError("checkpoint archive's deleted.files is not a list");
    }
    for (const Json& item : deleted) {
      if (!item.is_string() || !absl::StartsWith(item.get<std::string>(), "/")) {
        return absl::InvalidArgumentError(
            "checkpoint archive's deleted.files holds a non-absolute path");
      }
      contents.deleted_files.push_back(item.get<std::string>());
    }
  }
  return contents;
}

absl::Status ApplyRootfsDiff(const std::string& unpacked_dir,
                             const std::vector<std::string>& deleted_files,
                             const std::string& upper) {
  const std::string diff = absl::StrCat(unpacked_dir, "/", kRootfsDiffTar);
  UniqueFd fd(::open(diff.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) {
    absl::StatusOr<AppliedLayer> applied = ApplyLayer(fd.get(), upper);
    if (!applied.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint archive's rootfs-diff.tar: ", applied.status().message()));
    }
  } else if (errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "open " + diff);
  }
  // Each deleted path: its parents walked below `upper` without following
  // a symlink (made when missing), then a 0/0 character device, overlay's
  // whiteout, in place of the file.
  for (const std::string& path : deleted_files) {
    std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
    for (const std::string& part : parts) {
      if (part == "." || part == "..") {
        return absl::InvalidArgumentError("checkpoint archive's deleted.files: unsafe path " +
                                          path);
      }
    }
    if (parts.empty()) continue;
    UniqueFd dir(::open(upper.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return absl::ErrnoToStatus(errno, "open " + upper);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::ErrnoToStatus(errno, "mkdir for whiteout " + path);
      }
      UniqueFd next(
          ::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next.valid()) {
        return absl::InvalidArgumentError(absl::StrCat("checkpoint archive's deleted.files: ", path,
                                                       " is not below dirs (", std::strerror(errno),
                                                       ")"));
      }
      dir = std::move(next);
    }
    if (::mknodat(dir.get(), parts.back().c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0 &&
        errno != EEXIST) {
      return absl::ErrnoToStatus(errno, "whiteout " + path);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> CreateCheckpointFile(const std::string& location,
                                              const std::vector<std::string>& allowed_dirs) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("location \"", location, "\" ", why,
                                                   " (allowed: ", absl::StrJoin(allowed_dirs, ", "),
                                                   ")"));
  };
  if (location.empty()) return refuse("is empty");
  if (location[0] != '/') return refuse("is not an absolute path");
  std::vector<absl::string_view> parts = absl::StrSplit(location.substr(1), '/');
  for (absl::string_view part : parts) {
    if (part.empty() || part == "." || part == "..") return refuse("is not a normalised path");
  }
  const std::string* base = nullptr;
  for (const std::string& dir : allowed_dirs) {
    if (absl::StartsWith(location, dir + "/")) base = &dir;
  }
  if (base == nullptr) return refuse("is outside the checkpoint dirs");
  RETURN_IF_ERROR(MakeDirs(*base, 0700));
  UniqueFd dir(::open(base->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return absl::ErrnoToStatus(errno, "open " + *base);
  std::vector<absl::string_view> rest =
      absl::StrSplit(absl::string_view(location).substr(base->size() + 1), '/');
  for (size_t i = 0; i + 1 < rest.size(); ++i) {
    std::string part(rest[i]);
    UniqueFd next(::openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      return refuse(absl::StrCat("has no dir ", part, " (", std::strerror(errno), ")"));
    }
    dir = std::move(next);
  }
  std::string name(rest.back());
  UniqueFd file(::openat(dir.get(), name.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file.valid()) {
    if (errno == EEXIST) return refuse("exists already");
    return absl::ErrnoToStatus(errno, "create " + location);
  }
  return file;
}

}  // namespace ocid
