#include "pkg/image/image_lookup.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pkg/image/reference.h"

namespace ocid {
namespace {

std::string StoredName(const ImageReference& ref) {
  return ref.digest.empty() ? absl::StrCat(ref.Name(), ":", ref.tag)
                            : absl::StrCat(ref.Name(), "@", ref.digest);
}

void AddUnique(std::vector<std::string>& names, std::string name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    names.push_back(std::move(name));
  }
}

// Finds one name or ID, with a lease when asked to.
using Finder = std::function<std::optional<LeasedImage>(const std::string&)>;

std::optional<ImageMatch> Match(const Finder& find, const std::string& key) {
  std::optional<LeasedImage> found = find(key);
  if (!found.has_value()) return std::nullopt;
  const auto& tags = found->image.repo_tags;
  const auto& digests = found->image.repo_digests;
  bool by_tag = std::find(tags.begin(), tags.end(), key) != tags.end();
  bool by_digest = std::find(digests.begin(), digests.end(), key) != digests.end();
  std::string name = by_tag || by_digest ? key : "";
  return ImageMatch{std::move(found->image), std::move(name), by_tag, std::move(found->lease)};
}

absl::StatusOr<std::optional<ImageMatch>> Lookup(const ImageStore& images, const Finder& find,
                                                 const ShortNameSources& sources,
                                                 const std::string& name_or_id) {
  // As typed first: an ID, an ID prefix, or a stored name written out in full.
  if (std::optional<ImageMatch> match = Match(find, name_or_id)) return match;
  for (const std::string& name : LookupNames(name_or_id, sources)) {
    if (std::optional<ImageMatch> match = Match(find, name)) return match;
  }
  std::vector<Digest> ids = images.IdsWithPrefix(name_or_id);
  if (ids.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ID prefix \"", name_or_id, "\" is ambiguous: it matches ",
        absl::StrJoin(ids, ", ",
                      [](std::string* out, const Digest& id) { out->append(id.String()); })));
  }
  return std::optional<ImageMatch>();
}

}  // namespace

// `alias` ("registry/repository") with the tag and digest of `typed`.
std::optional<std::string> AliasName(const ImageReference& typed, const std::string& alias) {
  absl::StatusOr<ImageReference> target = ParseImageReference(alias);
  if (!target.ok()) return std::nullopt;
  target->tag = typed.tag;
  target->digest = typed.digest;
  return StoredName(*target);
}

std::vector<std::string> LookupNames(absl::string_view user_input,
                                     const ShortNameSources& sources) {
  std::vector<std::string> names;
  absl::StatusOr<ImageReference> normalized = ParseImageReference(user_input);
  if (!normalized.ok()) return names;
  if (!IsShortName(user_input)) {
    names.push_back(StoredName(*normalized));
    return names;
  }
  const std::string key = RepositoryAsTyped(user_input);
  if (auto alias = sources.aliases.find(key); alias != sources.aliases.end()) {
    if (std::optional<std::string> name = AliasName(*normalized, alias->second)) {
      names.push_back(*std::move(name));
    }
    return names;
  }
  names.push_back(StoredName(*normalized));
  if (auto cached = sources.cached_aliases.find(key); cached != sources.cached_aliases.end()) {
    if (std::optional<std::string> name = AliasName(*normalized, cached->second)) {
      AddUnique(names, *std::move(name));
    }
  }
  for (const std::string& registry : sources.search_registries) {
    std::string qualified = absl::StrCat(registry, "/", user_input);
    // A search entry that is no host would turn the name into another short
    // one; registries.conf refuses those, this only guards a conf from code.
    if (IsShortName(qualified)) continue;
    absl::StatusOr<ImageReference> candidate = ParseImageReference(qualified);
    if (candidate.ok()) AddUnique(names, StoredName(*candidate));
  }
  return names;
}

std::vector<std::string> TrustNames(const ImageMatch& match, absl::string_view user_specified_image,
                                    const ShortNameSources& sources) {
  const ImageRecord& image = match.image;
  auto stored = [&](const std::string& name) {
    return std::find(image.repo_tags.begin(), image.repo_tags.end(), name) !=
               image.repo_tags.end() ||
           std::find(image.repo_digests.begin(), image.repo_digests.end(), name) !=
               image.repo_digests.end();
  };
  if (!user_specified_image.empty()) {
    for (const std::string& name : LookupNames(user_specified_image, sources)) {
      if (stored(name)) return {name};
    }
  }
  if (!match.name.empty()) return {match.name};
  std::vector<std::string> names = image.repo_tags;
  names.insert(names.end(), image.repo_digests.begin(), image.repo_digests.end());
  return names;
}

std::string ContainerImageName(const ImageMatch& match) {
  if (match.by_tag) return match.name;
  if (!match.image.repo_tags.empty()) return match.image.repo_tags.front();
  return match.image.id.String();
}

std::string ContainerImageRef(const ImageRecord& image, const std::string& image_name) {
  if (image.repo_digests.empty()) return image.id.String();
  absl::StatusOr<ImageReference> name = ParseImageReference(image_name);
  if (name.ok()) {
    for (const std::string& digest : image.repo_digests) {
      absl::StatusOr<ImageReference> ref = ParseImageReference(digest);
      if (ref.ok() && ref->Name() == name->Name()) return digest;
    }
  }
  return image.repo_digests.front();
}

absl::StatusOr<std::optional<ImageMatch>> LookupImage(const ImageStore& images,
                                                      const ShortNameSources& sources,
                                                      const std::string& name_or_id) {
  Finder find = [&](const std::string& key) -> std::optional<LeasedImage> {
    std::optional<ImageRecord> image = images.Find(key);
    if (!image.has_value()) return std::nullopt;
    return LeasedImage{*std::move(image), Lease()};
  };
  return Lookup(images, find, sources, name_or_id);
}

absl::StatusOr<std::optional<ImageMatch>> LeaseImage(ImageStore& images,
                                                     const ShortNameSources& sources,
                                                     const std::string& name_or_id) {
  Finder find = [&](const std::string& key) { return images.FindAndLease(key); };
  return Lookup(images, find, sources, name_or_id);
}

}  // namespace ocid
