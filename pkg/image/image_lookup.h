// Finding a stored image by what a user or kubelet calls it: an ID, an ID
// prefix, or a name as typed ("busybox", "library/busybox:1.36",
// "quay.io/a/b@sha256:...").
#ifndef OCID_PKG_IMAGE_IMAGE_LOOKUP_H_
#define OCID_PKG_IMAGE_IMAGE_LOOKUP_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/lease.h"

namespace ocid {

// Where a pull of a short name may have put it: registries.conf's
// unqualified-search registries and [aliases], and the short-name alias
// cache.
struct ShortNameSources {
  ShortNameSources() = default;
  // Search registries alone, no aliases.
  ShortNameSources(std::vector<std::string> registries)  // NOLINT: implicit on purpose
      : search_registries(std::move(registries)) {}

  std::vector<std::string> search_registries;
  // Short name as typed without tag or digest -> "registry/repository".
  std::map<std::string, std::string> aliases;         // registries.conf's
  std::map<std::string, std::string> cached_aliases;  // the alias cache's
};

// The stored names (repo tags "registry/repo:tag" or repo digests
// "registry/repo@sha256:...") that `user_input` may stand for, in the order
// they are tried. A qualified name yields itself, normalized. A short name
// with a registries.conf alias yields that alone (with the tag or digest
// given): the administrator said what it means. Any other short name yields
// its Docker Hub form first (docker.io/library/...), as docker and kubelet
// mean it, then its cached alias (where a pull of it went before), then one
// name per unqualified-search registry, in order: where a pull of that short
// name may have found it (cri-o looks up the same candidates). A digest wins
// over a tag given with it, since a pull records the digest with the name
// only. Empty for an invalid reference.
std::vector<std::string> LookupNames(absl::string_view user_input, const ShortNameSources& sources);

struct ImageMatch {
  ImageRecord image;
  // The repo tag or repo digest that matched; "" when matched by ID.
  std::string name;
  bool by_tag = false;
  // Held only when found by LeaseImage.
  Lease lease;
};

// The image `name_or_id` names, nullopt if none: by ID ("sha256:<hex>",
// "<hex>" or an unambiguous prefix of 3 or more digits, see ImageStore::Find)
// first, then by the names of LookupNames, the first that is stored.
//
// An ID prefix that several images share, and that is no stored name either,
// is InvalidArgument listing the IDs it matches (the caller prefixes the
// field). Not "no such image": RemoveImage would then report success having
// removed nothing, and ImageStatus would tell a user with two images that
// he has none. containerd also fails such a lookup (its digest set says
// "ambiguous"); cri-o (containers/storage) finds nothing and tries the text
// as a name, which we do first.
absl::StatusOr<std::optional<ImageMatch>> LookupImage(const ImageStore& images,
                                                      const ShortNameSources& sources,
                                                      const std::string& name_or_id);

// LookupImage, and a lease on the image found, taken under the image
// store's lock with the find (ImageStore::FindAndLease): RemoveImage either
// removed the image before (nullopt) or refuses it while the lease is held.
absl::StatusOr<std::optional<ImageMatch>> LeaseImage(ImageStore& images,
                                                     const ShortNameSources& sources,
                                                     const std::string& name_or_id);

// The names of a found image the trust policy is checked for when a
// container is made of it (the image was checked at pull under the name
// pulled; the policy may have changed since). The name the user wrote in
// the pod spec (CRI user_specified_image, which kubelet sends beside the
// image ID) when it names one of the image's stored names; else the name
// the match was found by; else every repo tag, then every repo digest, of
// which one passing suffices (a signature accepted for any name vouches for
// the same manifest). Empty for an image with no name.
std::vector<std::string> TrustNames(const ImageMatch& match, absl::string_view user_specified_image,
                                    const ShortNameSources& sources);

// What ContainerStatus and ListContainers report as a container's image
// (kubelet shows it in the pod's status): a repo tag of the image, the one
// the name matched, else (created by ID or digest, as kubelet creates them)
// the image's first repo tag, else its ID.
std::string ContainerImageName(const ImageMatch& match);

// The container's image_ref: a repo digest of the image ("name@sha256:..."),
// of `image_name`'s repository when the image has one, else the first; the
// image ID when it has none.
std::string ContainerImageRef(const ImageRecord& image, const std::string& image_name);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_IMAGE_LOOKUP_H_
