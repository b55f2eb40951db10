#include "pkg/storage/blob_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid {

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root) {
  RETURN_IF_ERROR(MakeDirs(root + "/blobs/sha256", 0700));
  // Partial downloads of an interrupted pull: start those blobs over.
  RETURN_IF_ERROR(RemoveAll(root + "/ingest"));
  RETURN_IF_ERROR(MakeDirs(root + "/ingest", 0700));
  return std::unique_ptr<BlobStore>(new BlobStore(root));
}

absl::Status BlobStore::ClearIngest() {
  RETURN_IF_ERROR(RemoveAll(root_ + "/ingest"));
  return MakeDirs(root_ + "/ingest", 0700);
}

std::string BlobStore::PathOf(const Digest& digest) const {
  return absl::StrCat(root_, "/blobs/", digest.algorithm, "/", digest.hex);
}

bool BlobStore::Has(const Digest& digest) const {
  return ::access(PathOf(digest).c_str(), F_OK) == 0;
}

absl::StatusOr<UniqueFd> BlobStore::OpenBlob(const Digest& digest) const {
  UniqueFd fd(::open(PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "open blob " + digest.String());
  return fd;
}

absl::StatusOr<std::string> BlobStore::ReadBlob(const Digest& digest, size_t max_bytes) const {
  return ReadFileToString(PathOf(digest), max_bytes);
}

absl::Status BlobStore::Delete(const Digest& digest) {
  if (::unlink(PathOf(digest).c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "delete blob " + digest.String());
  }
  return absl::OkStatus();
}

Lease BlobStore::LeaseBlob(const Digest& digest) { return leases_.Take(digest.String()); }

absl::Status BlobStore::Collect(const std::function<std::set<std::string>()>& referenced) {
  absl::MutexLock collecting(&collect_mu_);
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(root_ + "/blobs/sha256"));
  std::vector<std::string> stored;
  for (const std::string& name : names) stored.push_back("sha256:" + name);
  std::vector<std::string> marked = leases_.Mark(stored);
  std::set<std::string> keep = referenced();
  absl::Status status;
  for (const std::string& key : marked) {
    if (!keep.count(key)) {
      absl::StatusOr<Digest> digest = ParseDigest(key);
      if (digest.ok()) status.Update(Delete(*digest));
    }
    leases_.Unmark(key);
  }
  return status;
}

absl::StatusOr<std::unique_ptr<BlobStore::Writer>> BlobStore::NewWriter(const Digest& expected,
                                                                        int64_t expected_size) {
  // A name of its own per writer: concurrent pulls never share a partial file.
  std::string temp = absl::StrCat(root_, "/ingest/", expected.hex, ".XXXXXX");
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "create " + temp);
  return std::unique_ptr<Writer>(
      new Writer(*this, expected, expected_size, std::move(temp), std::move(fd)));
}

absl::Status BlobStore::WriteBlob(const Digest& expected, absl::string_view data) {
  ASSIGN_OR_RETURN(auto writer, NewWriter(expected, static_cast<int64_t>(data.size())));
  RETURN_IF_ERROR(writer->Write(data));
  return writer->Commit();
}

BlobStore::Writer::Writer(BlobStore& store, Digest expected, int64_t expected_size,
                          std::string temp_path, UniqueFd fd)
    : store_(store),
      expected_(std::move(expected)),
      expected_size_(expected_size),
      temp_path_(std::move(temp_path)),
      fd_(std::move(fd)),
      hasher_(std::make_unique<Sha256>()) {}

BlobStore::Writer::~Writer() {
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status BlobStore::Writer::Write(absl::string_view chunk) {
  if (expected_size_ >= 0 && written_ + static_cast<int64_t>(chunk.size()) > expected_size_) {
    return absl::OutOfRangeError(absl::StrCat("blob ", expected_.String(), " is larger than the ",
                                              expected_size_, " bytes its descriptor says"));
  }
  hasher_->Update(chunk);
  written_ += static_cast<int64_t>(chunk.size());
  while (!chunk.empty()) {
    ssize_t n = ::write(fd_.get(), chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write " + temp_path_);
    chunk.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status BlobStore::Writer::Restart() {
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0) {
    return absl::ErrnoToStatus(errno, "truncate " + temp_path_);
  }
  hasher_ = std::make_unique<Sha256>();
  written_ = 0;
  return absl::OkStatus();
}

absl::Status BlobStore::Writer::Commit() {
  if (expected_size_ >= 0 && written_ != expected_size_) {
    return absl::DataLossError(absl::StrCat("blob ", expected_.String(), " is truncated: got ",
                                            written_, " of ", expected_size_, " bytes"));
  }
  Digest actual = hasher_->Finish();
  if (actual != expected_) {
    return absl::DataLossError(absl::StrCat("blob digest mismatch: expected ", expected_.String(),
                                            ", got ", actual.String()));
  }
  if (::fsync(fd_.get()) != 0) return absl::ErrnoToStatus(errno, "fsync " + temp_path_);
  if (::fchmod(fd_.get(), 0644) != 0) return absl::ErrnoToStatus(errno, "chmod " + temp_path_);
  std::string path = store_.PathOf(expected_);
  if (::rename(temp_path_.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, "rename blob into " + path);
  }
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace ocid
