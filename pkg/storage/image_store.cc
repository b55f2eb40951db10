#include "pkg/storage/image_store.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "pkg/base/record_json.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

}  // namespace

std::string ImageRecordToJson(const ImageRecord& image) {
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
absl::StatusOr<ImageRecord> ImageRecordFromJson(const std::string& text) {
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

namespace {

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

std::string ImageStore::StoredImage::Serialize() const { return ImageRecordToJson(image); }

absl::StatusOr<ImageStore::StoredImage> ImageStore::StoredImage::Parse(const std::string& text) {
  ASSIGN_OR_RETURN(ImageRecord image, ImageRecordFromJson(text));
  std::string hex = image.id.hex;
  return StoredImage{std::move(hex), std::move(image)};
}

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root) {
  std::unique_ptr<ImageStore> store(new ImageStore(root));
  RETURN_IF_ERROR(store->records_.Load());
  return store;
}

absl::Status ImageStore::Put(const ImageRecord& record) {
  absl::MutexLock writing(&write_mu_);
  // What changes, worked out on what is stored: only writers change it, and
  // we are the one writer.
  ImageRecord merged = record;
  bool exists = false;
  std::vector<std::string> untagged;  // images a tag moves away from
  records_.ForEach([&](const StoredImage& stored) {
    const ImageRecord& other = stored.image;
    if (other.id == record.id) {
      exists = true;
      merged.repo_tags = other.repo_tags;
      merged.repo_digests = other.repo_digests;
      for (const auto& tag : record.repo_tags) AddUnique(merged.repo_tags, tag);
      for (const auto& digest : record.repo_digests) AddUnique(merged.repo_digests, digest);
      return;
    }
    for (const auto& tag : record.repo_tags) {
      if (std::count(other.repo_tags.begin(), other.repo_tags.end(), tag)) {
        untagged.push_back(stored.id);
        return;
      }
    }
  });
  // This image first, then the others lose its tags: meanwhile a moving tag
  // finds one of the two, never neither.
  StoredImage stored{merged.id.hex, merged};
  if (exists) {
    RETURN_IF_ERROR(records_.Update(stored.id, [&](StoredImage& s) { s = stored; }).status());
  } else {
    RETURN_IF_ERROR(records_.Add(stored));
  }
  for (const std::string& id : untagged) {
    RETURN_IF_ERROR(records_
                        .Update(id,
                                [&](StoredImage& s) {
                                  for (const auto& tag : record.repo_tags) {
                                    Erase(s.image.repo_tags, tag);
                                  }
                                })
                        .status());
  }
  return absl::OkStatus();
}

std::optional<ImageRecord> ImageStore::Find(const std::string& name_or_id) const {
  std::optional<ImageRecord> by_id, by_name, by_prefix;
  int prefix_matches = 0;
  std::string hex = IdPrefixOf(name_or_id);
  records_.ForEach([&](const StoredImage& stored) {
    const ImageRecord& image = stored.image;
    if (by_id.has_value()) return;
    if (image.id.String() == name_or_id) {
      by_id = image;
      return;
    }
    if (!by_name.has_value() &&
        (std::count(image.repo_tags.begin(), image.repo_tags.end(), name_or_id) ||
         std::count(image.repo_digests.begin(), image.repo_digests.end(), name_or_id))) {
      by_name = image;
    }
    if (!hex.empty() && absl::StartsWith(image.id.hex, hex) && ++prefix_matches == 1) {
      by_prefix = image;
    }
  });
  if (by_id.has_value()) return by_id;
  if (by_name.has_value()) return by_name;
  return prefix_matches == 1 ? by_prefix : std::nullopt;
}

std::optional<LeasedImage> ImageStore::FindAndLease(const std::string& name_or_id) {
  absl::MutexLock lock(&mu_);
  std::optional<ImageRecord> image = Find(name_or_id);
  // One being removed is gone already: its lease count was checked.
  if (!image.has_value() || removing_.count(image->id.String())) return std::nullopt;
  std::string id = image->id.String();
  ++leases_[id];
  return LeasedImage{*std::move(image), Lease([this, id] {
                       absl::MutexLock lock(&mu_);
                       auto it = leases_.find(id);
                       if (it != leases_.end() && --it->second <= 0) leases_.erase(it);
                     })};
}

std::vector<Digest> ImageStore::IdsWithPrefix(const std::string& prefix) const {
  std::vector<Digest> ids;
  std::string hex = IdPrefixOf(prefix);
  if (hex.empty()) return ids;
  records_.ForEach([&](const StoredImage& stored) {
    if (absl::StartsWith(stored.image.id.hex, hex)) ids.push_back(stored.image.id);
  });
  return ids;
}

std::vector<ImageRecord> ImageStore::List() const {
  std::vector<ImageRecord> images;
  records_.ForEach([&](const StoredImage& stored) { images.push_back(stored.image); });
  return images;
}

absl::StatusOr<std::optional<ImageRecord>> ImageStore::Remove(const std::string& name_or_id) {
  absl::MutexLock writing(&write_mu_);
  std::optional<ImageRecord> found = Find(name_or_id);
  if (!found.has_value()) return std::optional<ImageRecord>();
  const ImageRecord& image = *found;
  const std::string id = image.id.String();
  bool by_tag = std::count(image.repo_tags.begin(), image.repo_tags.end(), name_or_id) > 0;
  if (by_tag && image.repo_tags.size() > 1) {
    RETURN_IF_ERROR(records_
                        .Update(image.id.hex,
                                [&](StoredImage& s) {
                                  Erase(s.image.repo_tags, name_or_id);
                                  // The repo's digest names go with its last tag.
                                  std::string repo = RepositoryOf(name_or_id);
                                  auto& tags = s.image.repo_tags;
                                  auto& digests = s.image.repo_digests;
                                  if (std::none_of(tags.begin(), tags.end(), [&](const auto& t) {
                                        return RepositoryOf(t) == repo;
                                      })) {
                                    digests.erase(std::remove_if(digests.begin(), digests.end(),
                                                                 [&](const auto& d) {
                                                                   return RepositoryOf(d) == repo;
                                                                 }),
                                                  digests.end());
                                  }
                                })
                        .status());
    return std::optional<ImageRecord>();
  }
  {
    // Checked and marked under the lock FindAndLease takes, so that no lease
    // comes between the check and the removal.
    absl::MutexLock lock(&mu_);
    auto leases = leases_.find(id);
    if (leases != leases_.end() && leases->second > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "image ", id, " is in use by ", leases->second, " container(s); remove them first"));
    }
    removing_.insert(id);
  }
  absl::Status removed = records_.Remove(image.id.hex);
  {
    absl::MutexLock lock(&mu_);
    removing_.erase(id);
  }
  RETURN_IF_ERROR(removed);  // still on disk: still there
  return found;
}

ImageReferences ImageStore::References() const {
  ImageReferences refs;
  records_.ForEach([&](const StoredImage& stored) {
    const ImageRecord& image = stored.image;
    for (const Digest& layer : image.layers) refs.layers.insert(layer.String());
    refs.blobs.insert(image.id.String());
    if (!image.manifest_digest.hex.empty()) refs.blobs.insert(image.manifest_digest.String());
  });
  return refs;
}

}  // namespace ocid
