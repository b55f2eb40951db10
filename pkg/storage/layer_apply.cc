#include "pkg/storage/layer_apply.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/storage/archive_api.h"
#include "pkg/storage/digest.h"

namespace ocid {
namespace {

constexpr size_t kReadBlockSize = 64 * 1024;
// A tar is a sequence of 512-byte records; an entry's data is padded to one.
constexpr size_t kTarRecordSize = 512;
// PATH_MAX: longer names can't be opened by path by anything after us.
constexpr size_t kMaxPathBytes = 4096;
constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kWhiteoutMetaPrefix[] = ".wh..wh.";
constexpr char kOpaqueMarker[] = ".wh..wh..opq";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
// chown(2) reads (uid_t)-1 as "leave unchanged", so it is no valid owner.
constexpr int64_t kMaxId = std::numeric_limits<uint32_t>::max() - 1;
// libarchive's ARCHIVE_ERRNO_FILE_FORMAT on Linux (archive_private.h): the
// errno of "Unrecognized archive format".
constexpr int kArchiveFormatErrno = EILSEQ;

struct ArchiveReadFree {
  const ArchiveApi* la;
  void operator()(archive* a) const { la->read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

struct DirClose {
  void operator()(DIR* dir) const { closedir(dir); }
};
using DirStream = std::unique_ptr<DIR, DirClose>;

// Entry names come from the layer: they reach messages escaped and quoted.
std::string Quote(absl::string_view name) {
  return absl::StrCat("\"", absl::CHexEscape(name), "\"");
}

std::string ArchiveError(const ArchiveApi& la, archive* a) {
  const char* message = la.error_string(a);
  return message != nullptr ? message : "unknown libarchive error";
}

absl::Status SysError(int err, absl::string_view call, const std::string& entry) {
  return absl::ErrnoToStatus(err, absl::StrCat(call, " for layer entry ", entry));
}

absl::Status BadEntry(const std::string& entry, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("layer entry ", entry, ": ", problem));
}

// The decompressed layer. An inner libarchive reader (gzip and zstd filters
// chosen by magic bytes, raw format) produces the uncompressed tar bytes; the
// tar reader pulls them through ReadCallback, which hashes each block, so the
// digest covers exactly the bytes the tar reader saw, plus what Finish()
// drains after the tar's end.
//
// Some writers (umoci 0.4.7, among others) end the tar right after the last
// entry's data: no padding to the record size, no end-of-archive records.
// Go's archive/tar, and so containerd and cri-o, accept such a layer, and the
// diff ID still proves its bytes. libarchive takes a missing end-of-archive
// as the end, but fails on the missing padding. So while the tar reader is
// past the last data byte of an entry (AllowShortPadding), an end of stream
// inside a record is completed with zeros, which are not hashed. Anywhere
// else (data or a header cut short) the stream ends where it ends and
// libarchive reports the truncation.
class LayerStream {
 public:
  static absl::StatusOr<std::unique_ptr<LayerStream>> Open(const ArchiveApi& la, int layer_fd);

  const ArchiveApi& api() const { return la_; }

  // A tar reader over this stream; it must be freed before *this.
  absl::StatusOr<ArchiveReader> OpenTar();

  // Hashes the rest of the stream (end-of-archive padding, trailing bytes)
  // and returns the digest of all of it.
  absl::StatusOr<Digest> Finish();

  // What went wrong in `tar` (a reader from OpenTar) while it did `doing`.
  absl::Status TarError(archive* tar, absl::string_view doing) const;

  // Whether the tar reader is now only past an entry's padding, which the
  // stream may then lack (see the class comment).
  void AllowShortPadding(bool allow) { short_padding_allowed_ = allow; }

 private:
  explicit LayerStream(const ArchiveApi& la)
      : la_(la), decompressor_(nullptr, ArchiveReadFree{&la}), buffer_(kReadBlockSize) {}
  static la_ssize_t ReadCallback(archive* tar, void* self, const void** block);
  la_ssize_t Read(const void** block);

  const ArchiveApi& la_;
  ArchiveReader decompressor_;
  Sha256 hasher_;
  std::vector<char> buffer_;
  bool at_end_ = false;
  bool short_padding_allowed_ = false;
  uint64_t delivered_ = 0;    // bytes handed to the tar reader, zeros included
  std::string stream_error_;  // the decompressor's error, once it failed
};

absl::StatusOr<std::unique_ptr<LayerStream>> LayerStream::Open(const ArchiveApi& la, int layer_fd) {
  std::unique_ptr<LayerStream> stream(new LayerStream(la));
  stream->decompressor_.reset(la.read_new());
  archive* a = stream->decompressor_.get();
  if (a == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  // ARCHIVE_WARN from a filter means "through an external program": refuse.
  if (la.read_support_filter_gzip(a) != ARCHIVE_OK ||
      la.read_support_filter_zstd(a) != ARCHIVE_OK || la.read_support_format_raw(a) != ARCHIVE_OK) {
    return absl::InternalError("libarchive without built-in gzip/zstd: " + ArchiveError(la, a));
  }
  if (la.read_open_fd(a, layer_fd, kReadBlockSize) != ARCHIVE_OK) {
    if (la.errno_value(a) == kArchiveFormatErrno) {
      return absl::InvalidArgumentError("not a tar archive: the layer stream is empty");
    }
    return absl::DataLossError("truncated or corrupt layer stream: " + ArchiveError(la, a));
  }
  archive_entry* raw_entry = nullptr;
  if (la.read_next_header(a, &raw_entry) != ARCHIVE_OK) {
    return absl::DataLossError("truncated or corrupt layer stream: " + ArchiveError(la, a));
  }
  return stream;
}

absl::StatusOr<ArchiveReader> LayerStream::OpenTar() {
  ArchiveReader tar(la_.read_new(), ArchiveReadFree{&la_});
  if (tar == nullptr) return absl::ResourceExhaustedError("archive_read_new failed");
  // ustar, pax and GNU tar; no filter: the bytes are decompressed already.
  if (la_.read_support_format_tar(tar.get()) != ARCHIVE_OK) {
    return absl::InternalError("libarchive without tar: " + ArchiveError(la_, tar.get()));
  }
  if (la_.read_open(tar.get(), this, nullptr, &LayerStream::ReadCallback, nullptr) != ARCHIVE_OK) {
    return TarError(tar.get(), "open the tar stream");
  }
  return tar;
}

la_ssize_t LayerStream::ReadCallback(archive* tar, void* self, const void** block) {
  auto* stream = static_cast<LayerStream*>(self);
  la_ssize_t size = stream->Read(block);
  if (size < 0) stream->la_.set_error(tar, EIO, "%s", stream->stream_error_.c_str());
  return size;
}

la_ssize_t LayerStream::Read(const void** block) {
  if (!stream_error_.empty()) return ARCHIVE_FATAL;
  if (at_end_) return 0;
  la_ssize_t size = la_.read_data(decompressor_.get(), buffer_.data(), buffer_.size());
  if (size < 0) {
    stream_error_ = ArchiveError(la_, decompressor_.get());
    return ARCHIVE_FATAL;
  }
  *block = buffer_.data();
  if (size == 0) {
    at_end_ = true;
    size_t missing = (kTarRecordSize - delivered_ % kTarRecordSize) % kTarRecordSize;
    if (short_padding_allowed_ && missing > 0) {
      // Not part of the layer's bytes: not hashed.
      std::fill_n(buffer_.begin(), missing, '\0');
      delivered_ += missing;
      return static_cast<la_ssize_t>(missing);
    }
    return 0;
  }
  hasher_.Update(absl::string_view(buffer_.data(), static_cast<size_t>(size)));
  delivered_ += static_cast<uint64_t>(size);
  return size;
}

absl::StatusOr<Digest> LayerStream::Finish() {
  short_padding_allowed_ = false;
  const void* block = nullptr;
  for (;;) {
    la_ssize_t size = Read(&block);
    if (size < 0) {
      return absl::DataLossError("corrupt layer stream after the tar's end: " + stream_error_);
    }
    if (size == 0) return hasher_.Finish();
  }
}

absl::Status LayerStream::TarError(archive* tar, absl::string_view doing) const {
  if (!stream_error_.empty()) {
    return absl::DataLossError(
        absl::StrCat("truncated or corrupt layer stream (", doing, "): ", stream_error_));
  }
  std::string message = ArchiveError(la_, tar);
  if (absl::StrContains(absl::AsciiStrToLower(message), "truncated")) {
    return absl::DataLossError(absl::StrCat("truncated layer (", doing, "): ", message));
  }
  if (la_.errno_value(tar) == kArchiveFormatErrno) {
    return absl::InvalidArgumentError(absl::StrCat("not a tar archive (", doing, "): ", message));
  }
  return absl::InvalidArgumentError(absl::StrCat("malformed layer (", doing, "): ", message));
}

// A layer entry's path as components below the layer root. Empty and "."
// components go (so do a leading "/" and "./": an absolute name lands below
// the root, as docker treats it); a ".." component is refused, not resolved.
using EntryPath = std::vector<std::string>;

absl::StatusOr<EntryPath> SplitEntryPath(absl::string_view name, const std::string& entry) {
  if (name.size() > kMaxPathBytes) {
    return BadEntry(entry, absl::StrCat("path longer than ", kMaxPathBytes, " bytes"));
  }
  EntryPath path;
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return BadEntry(entry, absl::StrCat("path ", Quote(name), " has a \"..\" component"));
    }
    path.emplace_back(part);
  }
  return path;
}

// openat2 of the single component `name` below `dir`: no symlink, no magic
// link, no mount crossing, nothing above `dir`.
int OpenBeneath(int dir, const std::string& name, int flags, mode_t mode = 0) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return static_cast<int>(syscall(SYS_openat2, dir, name.c_str(), &how, sizeof(how)));
}

// A fresh DIR stream over `dir` (its own file offset; `dir` stays open).
absl::StatusOr<DirStream> OpenDirStream(int dir) {
  int copy = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return absl::ErrnoToStatus(errno, "reopen directory");
  DirStream stream(fdopendir(copy));
  if (stream == nullptr) {
    int err = errno;
    close(copy);
    return absl::ErrnoToStatus(err, "fdopendir");
  }
  return stream;
}

absl::Status RemoveTree(int parent, const std::string& name, const std::string& entry);

// Removes everything in `dir`; subdirectories after the stream is closed, so
// only one stream is open per level.
absl::Status EmptyDir(int dir, const std::string& entry) {
  std::vector<std::string> subdirs;
  {
    ASSIGN_OR_RETURN(DirStream stream, OpenDirStream(dir));
    errno = 0;
    while (const dirent* child = readdir(stream.get())) {
      std::string name = child->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return SysError(errno, "stat while replacing a directory", entry);
      }
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(std::move(name));
      } else if (unlinkat(dir, name.c_str(), 0) != 0) {
        return SysError(errno, "unlink while replacing a directory", entry);
      }
      errno = 0;
    }
    if (errno != 0) return SysError(errno, "readdir while replacing a directory", entry);
  }
  for (const std::string& name : subdirs) RETURN_IF_ERROR(RemoveTree(dir, name, entry));
  return absl::OkStatus();
}

absl::Status RemoveTree(int parent, const std::string& name, const std::string& entry) {
  UniqueFd dir(OpenBeneath(parent, name, O_RDONLY | O_DIRECTORY));
  if (!dir.valid()) return SysError(errno, "open directory to replace", entry);
  RETURN_IF_ERROR(EmptyDir(dir.get(), entry));
  if (unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) {
    return SysError(errno, "rmdir to replace a directory", entry);
  }
  return absl::OkStatus();
}

bool IsWhiteoutDevice(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

// What ClearSlot found at a name.
enum class Slot { kEmpty, kDirectory, kWasWhiteout };

// Makes room for an entry `name` in `dir`. What is there came from an
// earlier entry of this layer (the target started empty); a later tar entry
// replaces it, except that a directory stays for a directory entry.
absl::StatusOr<Slot> ClearSlot(int dir, const std::string& name, bool keep_dir,
                               const std::string& entry) {
  struct stat st;
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Slot::kEmpty;
    return SysError(errno, "stat", entry);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) return Slot::kDirectory;
    RETURN_IF_ERROR(RemoveTree(dir, name, entry));
    return Slot::kEmpty;
  }
  if (unlinkat(dir, name.c_str(), 0) != 0) return SysError(errno, "unlink", entry);
  return IsWhiteoutDevice(st) ? Slot::kWasWhiteout : Slot::kEmpty;
}

absl::Status SetOpaque(int dir, const std::string& entry) {
  if (fsetxattr(dir, kOpaqueXattr, "y", 1, 0) != 0) {
    return SysError(errno, absl::StrCat("set ", kOpaqueXattr), entry);
  }
  return absl::OkStatus();
}

struct Metadata {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;                // permissions with setuid, setgid, sticky
  std::array<timespec, 2> times;  // atime, mtime
  std::vector<std::pair<std::string, std::string>> xattrs;
};

timespec MakeTime(int64_t seconds, long nanoseconds) {
  timespec time;
  time.tv_sec = static_cast<time_t>(seconds);
  time.tv_nsec = nanoseconds >= 0 && nanoseconds < 1000000000 ? nanoseconds : 0;
  return time;
}

// Overlayfs keeps its own state in these; a layer must not forge it.
bool IsOverlayPrivate(absl::string_view name) {
  return absl::StartsWith(name, "trusted.overlay.") || absl::StartsWith(name, "user.overlay.");
}

absl::StatusOr<Metadata> ReadMetadata(const ArchiveApi& la, archive_entry* e,
                                      const std::string& entry) {
  int64_t uid = la.entry_uid(e);
  int64_t gid = la.entry_gid(e);
  if (uid < 0 || uid > kMaxId || gid < 0 || gid > kMaxId) {
    return BadEntry(entry, absl::StrCat("invalid owner ", uid, ":", gid));
  }
  Metadata meta;
  meta.uid = static_cast<uid_t>(uid);
  meta.gid = static_cast<gid_t>(gid);
  meta.mode = la.entry_perm(e) & 07777;
  meta.times[1] = MakeTime(la.entry_mtime(e), la.entry_mtime_nsec(e));
  meta.times[0] = la.entry_atime_is_set(e) ? MakeTime(la.entry_atime(e), la.entry_atime_nsec(e))
                                           : meta.times[1];
  la.entry_xattr_reset(e);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (la.entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (name == nullptr || IsOverlayPrivate(name)) continue;
    meta.xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
  return meta;
}

// Sets the xattrs with `set` (an fsetxattr or lsetxattr). The user.,
// security. and trusted. namespaces must succeed; a name elsewhere (say a
// system.* ACL) that the kernel refuses is skipped.
template <typename SetFn>
absl::Status SetXattrs(const Metadata& meta, SetFn set, const std::string& entry) {
  for (const auto& [name, value] : meta.xattrs) {
    if (set(name.c_str(), value.data(), value.size()) == 0) continue;
    if (absl::StartsWith(name, "user.") || absl::StartsWith(name, "security.") ||
        absl::StartsWith(name, "trusted.")) {
      return SysError(errno, absl::StrCat("set xattr ", Quote(name)), entry);
    }
  }
  return absl::OkStatus();
}

// Order matters: chown clears setuid/setgid and drops security.capability, so
// the mode and the xattrs come after it. Directories get their times at the
// end of the layer (creating children would change them).
absl::Status SetMetadata(int fd, const Metadata& meta, bool set_times, const std::string& entry) {
  if (fchown(fd, meta.uid, meta.gid) != 0) return SysError(errno, "fchown", entry);
  if (fchmod(fd, meta.mode) != 0) return SysError(errno, "fchmod", entry);
  RETURN_IF_ERROR(SetXattrs(
      meta,
      [fd](const char* name, const void* value, size_t size) {
        return fsetxattr(fd, name, value, size, 0);
      },
      entry));
  if (set_times && futimens(fd, meta.times.data()) != 0) return SysError(errno, "futimens", entry);
  return absl::OkStatus();
}

// A symlink can't be opened for fchown/fsetxattr; it is named from its parent
// fd instead (lsetxattr has no *at form in glibc: /proc/self/fd/N/name).
absl::Status SetSymlinkMetadata(int dir, const std::string& name, const Metadata& meta,
                                const std::string& entry) {
  if (fchownat(dir, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return SysError(errno, "lchown", entry);
  }
  std::string proc_path = absl::StrCat("/proc/self/fd/", dir, "/", name);
  RETURN_IF_ERROR(SetXattrs(
      meta,
      [&proc_path](const char* xattr, const void* value, size_t size) {
        return lsetxattr(proc_path.c_str(), xattr, value, size, 0);
      },
      entry));
  if (utimensat(dir, name.c_str(), meta.times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
    return SysError(errno, "utimensat", entry);
  }
  return absl::OkStatus();
}

absl::Status WriteAt(int fd, const char* data, size_t size, int64_t offset,
                     const std::string& entry) {
  if (offset < 0 || static_cast<uint64_t>(offset) > std::numeric_limits<int64_t>::max() - size) {
    return BadEntry(entry, "data block offset out of range");
  }
  while (size > 0) {
    ssize_t written = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return SysError(errno, "write", entry);
    }
    data += written;
    size -= static_cast<size_t>(written);
    offset += written;
  }
  return absl::OkStatus();
}

// The number of data bytes the tar holds for `e`: its size, or for a sparse
// file the sum of its data blocks (the holes are not stored).
uint64_t StoredDataSize(const ArchiveApi& la, archive_entry* e) {
  la_int64_t size = la.entry_size(e);
  if (la.entry_sparse_reset(e) > 0) {
    size = 0;
    la_int64_t offset = 0;
    la_int64_t length = 0;
    while (la.entry_sparse_next(e, &offset, &length) == ARCHIVE_OK) size += length;
  }
  return size > 0 ? static_cast<uint64_t>(size) : 0;
}

// Reads the data of entry `e` block by block and hands each to `sink` with
// its offset in the file (a sparse file's blocks skip its holes). Once every
// stored byte has come, the reader only skips the entry's padding, which the
// last entry of a layer may lack.
template <typename Sink>
absl::Status ReadEntryData(archive* tar, archive_entry* e, LayerStream& stream,
                           const std::string& entry, Sink sink) {
  const ArchiveApi& la = stream.api();
  const uint64_t expected = StoredDataSize(la, e);
  uint64_t received = 0;
  for (;;) {
    stream.AllowShortPadding(received == expected);
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int result = la.read_data_block(tar, &block, &size, &offset);
    stream.AllowShortPadding(false);
    if (result == ARCHIVE_EOF) return absl::OkStatus();
    if (result != ARCHIVE_OK) {
      return stream.TarError(tar, absl::StrCat("read the data of layer entry ", entry));
    }
    received += size;
    RETURN_IF_ERROR(sink(block, size, offset));
  }
}

// Unpacks the entries into the layer root. A directory entry may come after
// its children, so directories' times are set by Finish().
class LayerWriter {
 public:
  LayerWriter(int root_fd, LayerStream& stream)
      : la_(stream.api()), root_fd_(root_fd), stream_(stream) {}

  absl::Status Apply(archive* tar, archive_entry* e);
  absl::Status Finish();
  int64_t unpacked_size() const { return unpacked_size_; }

 private:
  struct Parent {
    UniqueFd dir;
    std::string name;
  };
  struct DirTimes {
    EntryPath path;
    std::array<timespec, 2> times;
  };

  absl::StatusOr<UniqueFd> OpenChildDir(int dir, const std::string& name, bool create,
                                        const std::string& entry);
  absl::StatusOr<UniqueFd> OpenDir(const EntryPath& path, size_t depth, bool create,
                                   const std::string& entry);
  absl::StatusOr<Parent> OpenParent(const EntryPath& path, const std::string& entry);

  absl::Status ApplyWhiteout(const EntryPath& path, const std::string& entry);
  absl::Status WhiteOut(int dir, const std::string& name, const std::string& entry);
  absl::Status ApplyHardLink(const EntryPath& path, const char* target_name,
                             const std::string& entry);
  absl::Status ApplyDirectory(archive_entry* e, const EntryPath& path, const std::string& entry);
  absl::Status ApplyRegular(archive* tar, archive_entry* e, const EntryPath& path,
                            const std::string& entry);
  absl::Status ApplySymlink(archive_entry* e, const EntryPath& path, const std::string& entry);
  absl::Status ApplyFifo(archive_entry* e, const EntryPath& path, const std::string& entry);

  const ArchiveApi& la_;
  int root_fd_;
  LayerStream& stream_;
  int64_t unpacked_size_ = 0;
  std::map<std::string, DirTimes> dir_times_;  // by path: the last entry wins
};

absl::Status LayerWriter::Apply(archive* tar, archive_entry* e) {
  const char* name = la_.entry_pathname(e);
  if (name == nullptr) return absl::InvalidArgumentError("layer entry without a path");
  std::string entry = Quote(name);
  ASSIGN_OR_RETURN(EntryPath path, SplitEntryPath(name, entry));
  if (!path.empty() && absl::StartsWith(path.back(), kWhiteoutPrefix)) {
    return ApplyWhiteout(path, entry);
  }
  if (const char* target = la_.entry_hardlink(e)) return ApplyHardLink(path, target, entry);
  mode_t type = la_.entry_filetype(e);
  if (type == AE_IFDIR) return ApplyDirectory(e, path, entry);
  if (path.empty()) return BadEntry(entry, "only a directory can be the layer root");
  switch (type) {
    case AE_IFREG:
      return ApplyRegular(tar, e, path, entry);
    case AE_IFLNK:
      return ApplySymlink(e, path, entry);
    case AE_IFIFO:
      return ApplyFifo(e, path, entry);
    case AE_IFSOCK:
      return absl::OkStatus();  // a socket is meaningless without its process
    case AE_IFCHR:
    case AE_IFBLK:
      return BadEntry(entry, "device nodes are not allowed in image layers");
    default:
      return BadEntry(entry, absl::StrCat("unsupported entry type ", type));
  }
}

absl::StatusOr<UniqueFd> LayerWriter::OpenChildDir(int dir, const std::string& name, bool create,
                                                   const std::string& entry) {
  UniqueFd child(OpenBeneath(dir, name, O_RDONLY | O_DIRECTORY));
  if (!child.valid() && errno == ENOENT && create) {
    // A parent the tar does not list: docker's default owner and mode.
    if (mkdirat(dir, name.c_str(), 0755) != 0) return SysError(errno, "mkdir parent", entry);
    child.Reset(OpenBeneath(dir, name, O_RDONLY | O_DIRECTORY));
    if (child.valid() && fchmod(child.get(), 0755) != 0) {
      return SysError(errno, "chmod parent", entry);
    }
  }
  if (child.valid()) return child;
  int err = errno;
  struct stat st;
  switch (err) {
    case ELOOP:
    case ENOTDIR:
      if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
        return BadEntry(entry, absl::StrCat("path component ", Quote(name),
                                            " is a symlink; nothing is written through one"));
      }
      return BadEntry(entry, absl::StrCat("path component ", Quote(name), " is not a directory"));
    case ENOENT:
      return BadEntry(entry, absl::StrCat("path component ", Quote(name), " is not in this layer"));
    default:
      return SysError(err, absl::StrCat("open directory ", Quote(name)), entry);
  }
}

// The directory at path[0..depth), walked from the root one component at a
// time, each opened beneath the last without following symlinks.
absl::StatusOr<UniqueFd> LayerWriter::OpenDir(const EntryPath& path, size_t depth, bool create,
                                              const std::string& entry) {
  UniqueFd dir(fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return SysError(errno, "dup the layer root fd", entry);
  for (size_t i = 0; i < depth; ++i) {
    ASSIGN_OR_RETURN(dir, OpenChildDir(dir.get(), path[i], create, entry));
  }
  return dir;
}

absl::StatusOr<LayerWriter::Parent> LayerWriter::OpenParent(const EntryPath& path,
                                                            const std::string& entry) {
  ASSIGN_OR_RETURN(UniqueFd dir, OpenDir(path, path.size() - 1, /*create=*/true, entry));
  return Parent{std::move(dir), path.back()};
}

absl::Status LayerWriter::ApplyWhiteout(const EntryPath& path, const std::string& entry) {
  const std::string& base = path.back();
  if (base != kOpaqueMarker && absl::StartsWith(base, kWhiteoutMetaPrefix)) {
    return absl::OkStatus();  // other AUFS bookkeeping (.wh..wh.plnk, ...)
  }
  std::string victim = base.substr(sizeof(kWhiteoutPrefix) - 1);
  if (base != kOpaqueMarker && (victim.empty() || victim == "." || victim == "..")) {
    return BadEntry(entry, "whiteout names no sibling entry");
  }
  ASSIGN_OR_RETURN(UniqueFd dir, OpenDir(path, path.size() - 1, /*create=*/true, entry));
  if (base == kOpaqueMarker) return SetOpaque(dir.get(), entry);
  return WhiteOut(dir.get(), victim, entry);
}

// A whiteout hides `name` in the lower layers only: what this layer put there
// itself stays (it hides the lower one anyway), and a directory of this
// layer's turns opaque so the lower one's content does not show through.
absl::Status LayerWriter::WhiteOut(int dir, const std::string& name, const std::string& entry) {
  struct stat st;
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
    UniqueFd victim(OpenBeneath(dir, name, O_RDONLY | O_DIRECTORY));
    if (!victim.valid()) return SysError(errno, "open whited-out directory", entry);
    return SetOpaque(victim.get(), entry);
  }
  if (errno != ENOENT) return SysError(errno, "stat whiteout target", entry);
  if (mknodat(dir, name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
    return SysError(errno, "mknod overlay whiteout", entry);
  }
  return absl::OkStatus();
}

// The target must already be in the layer: resolved below the root like any
// entry, it can't name a file outside it.
absl::Status LayerWriter::ApplyHardLink(const EntryPath& path, const char* target_name,
                                        const std::string& entry) {
  if (path.empty()) return BadEntry(entry, "a hard link can't be the layer root");
  ASSIGN_OR_RETURN(EntryPath target, SplitEntryPath(target_name, entry));
  if (target.empty()) return BadEntry(entry, "hard link to the layer root");
  ASSIGN_OR_RETURN(UniqueFd target_dir,
                   OpenDir(target, target.size() - 1, /*create=*/false, entry));
  struct stat target_st;
  if (fstatat(target_dir.get(), target.back().c_str(), &target_st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return SysError(errno, "stat hard link target", entry);
    return BadEntry(entry, absl::StrCat("hard link target ", Quote(target_name),
                                        " is not an earlier entry of this layer"));
  }
  if (S_ISDIR(target_st.st_mode) || S_ISCHR(target_st.st_mode) || S_ISBLK(target_st.st_mode)) {
    return BadEntry(entry, "hard link to a directory or a whiteout");
  }
  ASSIGN_OR_RETURN(Parent parent, OpenParent(path, entry));
  struct stat st;
  if (fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_dev == target_st.st_dev && st.st_ino == target_st.st_ino) {
    return absl::OkStatus();  // already that file
  }
  RETURN_IF_ERROR(ClearSlot(parent.dir.get(), parent.name, false, entry).status());
  // flags 0: a symlink target is linked itself, never followed.
  int linked = linkat(target_dir.get(), target.back().c_str(), parent.dir.get(),
                      parent.name.c_str(), /*flags=*/0);
  if (linked != 0) return SysError(errno, "link", entry);
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplyDirectory(archive_entry* e, const EntryPath& path,
                                         const std::string& entry) {
  ASSIGN_OR_RETURN(Metadata meta, ReadMetadata(la_, e, entry));
  UniqueFd dir;
  if (path.empty()) {
    dir.Reset(fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
    if (!dir.valid()) return SysError(errno, "dup the layer root fd", entry);
  } else {
    ASSIGN_OR_RETURN(Parent parent, OpenParent(path, entry));
    ASSIGN_OR_RETURN(Slot slot, ClearSlot(parent.dir.get(), parent.name, true, entry));
    if (slot != Slot::kDirectory && mkdirat(parent.dir.get(), parent.name.c_str(), 0700) != 0) {
      return SysError(errno, "mkdir", entry);
    }
    dir.Reset(OpenBeneath(parent.dir.get(), parent.name, O_RDONLY | O_DIRECTORY));
    if (!dir.valid()) return SysError(errno, "open directory", entry);
    // Replacing this layer's whiteout: the lower directory stays deleted.
    if (slot == Slot::kWasWhiteout) RETURN_IF_ERROR(SetOpaque(dir.get(), entry));
  }
  RETURN_IF_ERROR(SetMetadata(dir.get(), meta, /*set_times=*/false, entry));
  dir_times_[absl::StrJoin(path, "/")] = DirTimes{path, meta.times};
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplyRegular(archive* tar, archive_entry* e, const EntryPath& path,
                                       const std::string& entry) {
  ASSIGN_OR_RETURN(Metadata meta, ReadMetadata(la_, e, entry));
  int64_t size = la_.entry_size(e);
  if (size < 0 || size > std::numeric_limits<int64_t>::max() - unpacked_size_) {
    return BadEntry(entry, absl::StrCat("invalid size ", size));
  }
  ASSIGN_OR_RETURN(Parent parent, OpenParent(path, entry));
  RETURN_IF_ERROR(ClearSlot(parent.dir.get(), parent.name, false, entry).status());
  UniqueFd file(OpenBeneath(parent.dir.get(), parent.name, O_WRONLY | O_CREAT | O_EXCL, 0600));
  if (!file.valid()) return SysError(errno, "create file", entry);
  RETURN_IF_ERROR(
      ReadEntryData(tar, e, stream_, entry, [&](const void* block, size_t size, int64_t offset) {
        return WriteAt(file.get(), static_cast<const char*>(block), size, offset, entry);
      }));
  // Sets the size a sparse file's trailing hole leaves unwritten.
  if (ftruncate(file.get(), static_cast<off_t>(size)) != 0) {
    return SysError(errno, "ftruncate", entry);
  }
  RETURN_IF_ERROR(SetMetadata(file.get(), meta, /*set_times=*/true, entry));
  unpacked_size_ += size;
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplySymlink(archive_entry* e, const EntryPath& path,
                                       const std::string& entry) {
  // Any target is fine: it is only ever resolved inside the container.
  const char* target = la_.entry_symlink(e);
  if (target == nullptr || *target == '\0') return BadEntry(entry, "symlink without a target");
  ASSIGN_OR_RETURN(Metadata meta, ReadMetadata(la_, e, entry));
  ASSIGN_OR_RETURN(Parent parent, OpenParent(path, entry));
  RETURN_IF_ERROR(ClearSlot(parent.dir.get(), parent.name, false, entry).status());
  if (symlinkat(target, parent.dir.get(), parent.name.c_str()) != 0) {
    return SysError(errno, "symlink", entry);
  }
  return SetSymlinkMetadata(parent.dir.get(), parent.name, meta, entry);
}

absl::Status LayerWriter::ApplyFifo(archive_entry* e, const EntryPath& path,
                                    const std::string& entry) {
  ASSIGN_OR_RETURN(Metadata meta, ReadMetadata(la_, e, entry));
  ASSIGN_OR_RETURN(Parent parent, OpenParent(path, entry));
  RETURN_IF_ERROR(ClearSlot(parent.dir.get(), parent.name, false, entry).status());
  if (mknodat(parent.dir.get(), parent.name.c_str(), S_IFIFO | 0600, 0) != 0) {
    return SysError(errno, "mkfifo", entry);
  }
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
  UniqueFd fifo(OpenBeneath(parent.dir.get(), parent.name, O_RDONLY | O_NONBLOCK));
  if (!fifo.valid()) return SysError(errno, "open fifo", entry);
  return SetMetadata(fifo.get(), meta, /*set_times=*/true, entry);
}

absl::Status LayerWriter::Finish() {
  for (const auto& [key, dir_times] : dir_times_) {
    std::string entry = Quote(key);
    absl::StatusOr<UniqueFd> dir =
        OpenDir(dir_times.path, dir_times.path.size(), /*create=*/false, entry);
    // A later entry replaced the directory with something else: no times.
    if (absl::IsInvalidArgument(dir.status())) continue;
    if (!dir.ok()) return dir.status();
    if (futimens(dir->get(), dir_times.times.data()) != 0) {
      return SysError(errno, "futimens", entry);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenEmptyDir(const std::string& path) {
  UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return absl::ErrnoToStatus(errno, "open layer target dir " + path);
  ASSIGN_OR_RETURN(DirStream stream, OpenDirStream(dir.get()));
  errno = 0;
  while (const dirent* child = readdir(stream.get())) {
    absl::string_view name = child->d_name;
    if (name != "." && name != "..") {
      return absl::FailedPreconditionError("layer target dir " + path + " is not empty");
    }
  }
  if (errno != 0) return absl::ErrnoToStatus(errno, "read layer target dir " + path);
  return dir;
}

absl::Status ExtractEntries(archive* tar, LayerStream& stream, LayerWriter& writer) {
  const ArchiveApi& la = stream.api();
  for (;;) {
    archive_entry* entry = nullptr;
    int result = la.read_next_header(tar, &entry);
    if (result == ARCHIVE_EOF) return absl::OkStatus();
    // ARCHIVE_WARN: a header read in full whose name could not be converted
    // to the current locale; libarchive then keeps the raw bytes, as we want.
    if (result != ARCHIVE_OK && result != ARCHIVE_WARN) {
      return stream.TarError(tar, "read an entry header");
    }
    RETURN_IF_ERROR(writer.Apply(tar, entry));
    // What Apply did not read (data of a hard link, a whiteout, a socket, or
    // a regular file's data after the fact: then nothing) is skipped here
    // rather than by the next header read, so that a last entry without
    // padding is accepted whatever its type.
    RETURN_IF_ERROR(ReadEntryData(tar, entry, stream, Quote(la.entry_pathname(entry)),
                                  [](const void*, size_t, int64_t) { return absl::OkStatus(); }));
  }
}

}  // namespace

absl::StatusOr<AppliedLayer> ApplyLayer(int layer_fd, const std::string& target_dir) {
  ASSIGN_OR_RETURN(const ArchiveApi* la, LoadArchive());
  ASSIGN_OR_RETURN(UniqueFd root, OpenEmptyDir(target_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<LayerStream> stream, LayerStream::Open(*la, layer_fd));
  ASSIGN_OR_RETURN(ArchiveReader tar, stream->OpenTar());
  LayerWriter writer(root.get(), *stream);
  RETURN_IF_ERROR(ExtractEntries(tar.get(), *stream, writer));
  RETURN_IF_ERROR(writer.Finish());
  ASSIGN_OR_RETURN(Digest diff_id, stream->Finish());
  return AppliedLayer{std::move(diff_id), writer.unpacked_size()};
}

}  // namespace ocid
