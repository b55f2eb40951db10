// Registry credentials from a containers-auth.json(5) file (the format of
// podman's auth.json and docker's config.json "auths" section).
#ifndef OCID_PKG_IMAGE_AUTH_FILE_H_
#define OCID_PKG_IMAGE_AUTH_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

struct RegistryCredentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token ("identitytoken")
  std::string registry_token;  // a bearer token sent as is ("registrytoken")

  // True when there is nothing to authenticate with: pull anonymously.
  bool empty() const;
};

// The credentials `path` holds for `repository` on `registry` (as parsed by
// ParseImageReference, e.g. "docker.io", "library/busybox"). The most
// specific key wins: "reg/ns/repo" over "reg/ns" over "reg". Keys written as
// URLs ("https://reg/v2/") count for the whole registry, and the legacy
// "https://index.docker.io/v1/" and "registry-1.docker.io" mean docker.io.
// A missing file, or no matching key, gives empty credentials. Malformed JSON
// or a malformed entry is InvalidArgument naming the file; read errors carry
// errno.
absl::StatusOr<RegistryCredentials> LookupAuthFile(const std::string& path,
                                                   absl::string_view registry,
                                                   absl::string_view repository);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_AUTH_FILE_H_
