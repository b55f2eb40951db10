// pinned_images (cri-o's key): images kubelet's garbage collection must keep,
// reported with the CRI Image's `pinned`, and that RemoveImage refuses. A
// pattern is a name matched whole ("registry.k8s.io/pause:3.9"), a glob with
// its one wildcard at the end ("registry.k8s.io/pause*"), or a keyword with
// wildcards at both ends ("*pause*"); an image is pinned when one of its tags,
// digests or its ID matches.
#ifndef OCID_PKG_IMAGE_PINNED_IMAGES_H_
#define OCID_PKG_IMAGE_PINNED_IMAGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/storage/image_store.h"

namespace ocid {

class PinnedImages {
 public:
  PinnedImages() = default;  // pins nothing
  // InvalidArgument naming "ocid.image.pinned_images" and the pattern for an
  // empty one or a '*' other than at its ends.
  static absl::StatusOr<PinnedImages> Parse(const std::vector<std::string>& patterns);

  bool Matches(absl::string_view name) const;
  bool Pins(const ImageRecord& image) const;

 private:
  enum class Kind { kExact, kPrefix, kKeyword };
  struct Pattern {
    Kind kind;
    std::string text;  // without its wildcards
  };
  std::vector<Pattern> patterns_;
};

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_PINNED_IMAGES_H_
