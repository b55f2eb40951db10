#include "pkg/security/host_features.h"

#include "absl/strings/str_cat.h"

namespace ocid {

namespace cri = ::runtime::v1;

absl::Status CheckUserNamespace(const cri::NamespaceOption& options, absl::string_view field) {
  if (!options.has_userns_options()) return absl::OkStatus();
  const cri::UserNamespace& userns = options.userns_options();
  switch (userns.mode()) {
    case cri::NamespaceMode::NODE:
      if (userns.uids_size() > 0 || userns.gids_size() > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": uid/gid mappings need mode POD, not NODE"));
      }
      return absl::OkStatus();
    case cri::NamespaceMode::POD:
      // runc 1.1 cannot mount the container's overlay rootfs with an idmap,
      // so files the image owns would belong to nobody inside.
      return absl::InvalidArgumentError(absl::StrCat(
          field,
          ": user namespaces (mode POD) are not supported: the runtimes here cannot give "
          "the container's rootfs an idmapped mount (runc before 1.2)"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": mode ", cri::NamespaceMode_Name(userns.mode()),
                       " is not a user namespace mode (NODE or POD)"));
  }
}

}  // namespace ocid
