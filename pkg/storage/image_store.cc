#include "pkg/storage/image_store.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/record_files.h"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

constexpr size_t kMaxRecordBytes = 1 << 20;

std::string ToJson(const ImageRecord& image) {
  std::vector<std::string> layers;
  for (const Digest& layer : image.layers) layers.push_back(layer.String());
  // A record loaded without a manifest digest writes back "", not ":".
  std::string manifest =
      image.manifest_digest.hex.empty() ? std::string() : image.manifest_digest.String();
  return nlohmann::json{{"version", kRecordVersion},
                        {"id", image.id.String()},
                        {"repo_tags", image.repo_tags},
                        {"repo_digests", image.repo_digests},
                        {"manifest_digest", manifest},
                        {"layers", layers},
                        {"size", image.size},
                        {"user", image.user},
                        {"pulled_at_nanos", image.pulled_at_nanos}}
      .dump();
}

// Missing keys keep the defaults (record_json.h); only the ID is required.
absl::StatusOr<ImageRecord> FromJson(const std::string& text) {
  ASSIGN_OR_RETURN(RecordReader in, RecordReader::Parse(text, "image"));
  std::string id, manifest_digest;
  std::vector<std::string> layers;
  ImageRecord image;
  in.Require("id", id);
  in.Read("repo_tags", image.repo_tags);
  in.Read("repo_digests", image.repo_digests);
  in.Read("manifest_digest", manifest_digest);
  in.Read("layers", layers);
  in.Read("size", image.size);
  in.Read("user", image.user);
  in.Read("pulled_at_nanos", image.pulled_at_nanos);
  RETURN_IF_ERROR(in.status());
  ASSIGN_OR_RETURN(image.id, ParseDigest(id));
  if (!manifest_digest.empty()) {
    ASSIGN_OR_RETURN(image.manifest_digest, ParseDigest(manifest_digest));
  }
  for (const std::string& layer : layers) {
    ASSIGN_OR_RETURN(Digest digest, ParseDigest(layer));
    image.layers.push_back(digest);
  }
  return image;
}

void AddUnique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

bool Erase(std::vector<std::string>& list, const std::string& value) {
  auto it = std::find(list.begin(), list.end(), value);
  if (it == list.end()) return false;
  list.erase(it);
  return true;
}

// "docker.io/library/busybox:latest" and "...busybox@sha256:.." -> the repo.
std::string RepositoryOf(const std::string& name) {
  size_t at = name.find('@');
  if (at != std::string::npos) return name.substr(0, at);
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  return colon != std::string::npos && (slash == std::string::npos || colon > slash)
             ? name.substr(0, colon)
             : name;
}

// The hex digits of an ID or ID prefix ("sha256:" optional); "" when
// `text` is none (too short to mean one image, or not lowercase hex).
std::string IdPrefixOf(const std::string& text) {
  absl::string_view hex = text;
  absl::ConsumePrefix(&hex, "sha256:");
  if (hex.size() < 3 || hex.size() > 64) return "";
  for (char c : hex) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return "";
  }
  return std::string(hex);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root) {
  std::unique_ptr<ImageStore> store(new ImageStore(root));
  RETURN_IF_ERROR(store->Load());
  return store;
}

absl::Status ImageStore::Load() {
  RecordDirLayout layout;
  layout.suffix = ".json";
  layout.max_bytes = kMaxRecordBytes;
  ASSIGN_OR_RETURN(std::vector<RecordFile> files, ReadRecordFiles(root_, layout));
  absl::MutexLock lock(&mu_);
  for (const RecordFile& file : files) {
    RETURN_IF_ERROR(file.text.status());
    absl::StatusOr<ImageRecord> image = FromJson(*file.text);
    if (!image.ok()) {
      return absl::DataLossError(absl::StrCat(file.path, ": ", image.status().message()));
    }
    images_[image->id.String()] = *image;
  }
  return absl::OkStatus();
}

absl::Status ImageStore::Persist(const ImageRecord& record) const {
  return WriteFileAtomically(absl::StrCat(root_, "/", record.id.hex, ".json"), ToJson(record),
                             0600);
}

absl::Status ImageStore::Put(const ImageRecord& record) {
  absl::MutexLock writing(&write_mu_);
  // What changes, worked out on a snapshot: only writers change images_, and
  // we are the one writer.
  ImageRecord merged = record;
  std::vector<ImageRecord> untagged;  // images a tag moves away from
  {
    absl::ReaderMutexLock lock(&mu_);
    auto existing = images_.find(record.id.String());
    if (existing != images_.end()) {
      merged.repo_tags = existing->second.repo_tags;
      merged.repo_digests = existing->second.repo_digests;
      for (const auto& tag : record.repo_tags) AddUnique(merged.repo_tags, tag);
      for (const auto& digest : record.repo_digests) AddUnique(merged.repo_digests, digest);
    }
    // A tag names one image: move it here from whichever image had it.
    for (const auto& [id, other] : images_) {
      if (id == merged.id.String()) continue;
      ImageRecord changed = other;
      bool moved = false;
      for (const auto& tag : record.repo_tags) moved |= Erase(changed.repo_tags, tag);
      if (moved) untagged.push_back(std::move(changed));
    }
  }
  for (const ImageRecord& other : untagged) RETURN_IF_ERROR(Persist(other));
  RETURN_IF_ERROR(Persist(merged));
  absl::MutexLock lock(&mu_);
  for (ImageRecord& other : untagged) images_[other.id.String()] = std::move(other);
  images_[merged.id.String()] = std::move(merged);
  return absl::OkStatus();
}

const ImageRecord* ImageStore::FindLocked(const std::string& name_or_id) const {
  auto exact = images_.find(name_or_id);
  if (exact != images_.end()) return &exact->second;
  std::string hex = IdPrefixOf(name_or_id);
  const ImageRecord* by_prefix = nullptr;
  int prefix_matches = 0;
  for (const auto& [id, image] : images_) {
    if (std::count(image.repo_tags.begin(), image.repo_tags.end(), name_or_id) ||
        std::count(image.repo_digests.begin(), image.repo_digests.end(), name_or_id)) {
      return &image;
    }
    if (!hex.empty() && absl::StartsWith(image.id.hex, hex)) {
      by_prefix = &image;
      ++prefix_matches;
    }
  }
  return prefix_matches == 1 ? by_prefix : nullptr;
}

std::optional<ImageRecord> ImageStore::Find(const std::string& name_or_id) const {
  absl::ReaderMutexLock lock(&mu_);
  const ImageRecord* image = FindLocked(name_or_id);
  if (image == nullptr) return std::nullopt;
  return *image;
}

std::vector<Digest> ImageStore::IdsWithPrefix(const std::string& prefix) const {
  std::vector<Digest> ids;
  std::string hex = IdPrefixOf(prefix);
  if (hex.empty()) return ids;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, image] : images_) {
    if (absl::StartsWith(image.id.hex, hex)) ids.push_back(image.id);
  }
  return ids;
}

std::vector<ImageRecord> ImageStore::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<ImageRecord> images;
  for (const auto& [id, image] : images_) images.push_back(image);
  return images;
}

absl::StatusOr<std::optional<ImageRecord>> ImageStore::Remove(const std::string& name_or_id) {
  absl::MutexLock writing(&write_mu_);
  ImageRecord image;
  {
    absl::ReaderMutexLock lock(&mu_);
    const ImageRecord* found = FindLocked(name_or_id);
    if (found == nullptr) return std::optional<ImageRecord>();
    image = *found;
  }
  bool by_tag = std::count(image.repo_tags.begin(), image.repo_tags.end(), name_or_id) > 0;
  if (by_tag && image.repo_tags.size() > 1) {
    Erase(image.repo_tags, name_or_id);
    // The repo's digest names go with its last tag.
    std::string repo = RepositoryOf(name_or_id);
    bool repo_still_tagged = std::any_of(image.repo_tags.begin(), image.repo_tags.end(),
                                         [&](const auto& t) { return RepositoryOf(t) == repo; });
    if (!repo_still_tagged) {
      image.repo_digests.erase(
          std::remove_if(image.repo_digests.begin(), image.repo_digests.end(),
                         [&](const auto& d) { return RepositoryOf(d) == repo; }),
          image.repo_digests.end());
    }
    RETURN_IF_ERROR(Persist(image));
    absl::MutexLock lock(&mu_);
    images_[image.id.String()] = image;
    return std::optional<ImageRecord>();
  }
  {
    // Unpublished first, under the same lock as the in-use check, so that
    // no lease can come between them; the file goes after.
    absl::MutexLock lock(&mu_);
    auto leases = leases_.find(image.id.String());
    if (leases != leases_.end() && leases->second > 0) {
      return absl::FailedPreconditionError(absl::StrCat("image ", image.id.String(),
                                                        " is in use by ", leases->second,
                                                        " container(s); remove them first"));
    }
    images_.erase(image.id.String());
  }
  std::string path = absl::StrCat(root_, "/", image.id.hex, ".json");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    absl::Status failed = absl::ErrnoToStatus(errno, "remove image record " + path);
    absl::MutexLock lock(&mu_);
    images_[image.id.String()] = image;  // still on disk: still there
    return failed;
  }
  return std::optional<ImageRecord>(image);
}

std::optional<LeasedImage> ImageStore::FindAndLease(const std::string& name_or_id) {
  absl::MutexLock lock(&mu_);
  const ImageRecord* image = FindLocked(name_or_id);
  if (image == nullptr) return std::nullopt;
  std::string id = image->id.String();
  ++leases_[id];
  return LeasedImage{*image, Lease([this, id] {
                       absl::MutexLock lock(&mu_);
                       auto it = leases_.find(id);
                       if (it != leases_.end() && --it->second <= 0) leases_.erase(it);
                     })};
}

ImageReferences ImageStore::References() const {
  absl::ReaderMutexLock lock(&mu_);
  ImageReferences refs;
  for (const auto& [id, image] : images_) {
    for (const Digest& layer : image.layers) refs.layers.insert(layer.String());
    refs.blobs.insert(image.id.String());
    if (!image.manifest_digest.hex.empty()) refs.blobs.insert(image.manifest_digest.String());
  }
  return refs;
}

}  // namespace ocid
