// Image references ("busybox", "quay.io/a/b:tag@sha256:...") parsed by the
// docker/distribution grammar and normalized the way docker and
// containers/image do, so that the same image always gets the same name.
#ifndef OCID_PKG_IMAGE_REFERENCE_H_
#define OCID_PKG_IMAGE_REFERENCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

struct ImageReference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "" when the reference names only a digest
  std::string digest;      // "sha256:<64 hex>" or ""

  // Fully qualified: "docker.io/library/busybox:latest",
  // "host:5000/a/b@sha256:...", or "r/a:tag@sha256:..." when both are set.
  std::string String() const;
  // registry + "/" + repository.
  std::string Name() const;

  bool operator==(const ImageReference& other) const {
    return registry == other.registry && repository == other.repository && tag == other.tag &&
           digest == other.digest;
  }
  bool operator!=(const ImageReference& other) const { return !(*this == other); }
};

// Parses and normalizes `text`: a missing registry becomes docker.io
// ("index.docker.io" is folded into it), a one-component docker.io repository
// gets "library/", and a reference with neither tag nor digest gets tag
// "latest". Returns InvalidArgument naming the input and the broken part.
absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text);

// True when `text` names no registry (its first path component has no '.' or
// ':' and is not "localhost"), so registries.conf's unqualified-search
// registries decide where it comes from. Does not validate `text`.
bool IsShortName(absl::string_view text);

// `text` without its ":tag" and "@digest" as typed ("library/busybox" for
// "library/busybox:1.36"): the key registries.conf's [aliases] are looked up
// by. Does not validate `text`.
std::string RepositoryAsTyped(absl::string_view text);

// True when `text` as typed carries a tag or a digest.
bool TypedWithTagOrDigest(absl::string_view text);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_REFERENCE_H_
