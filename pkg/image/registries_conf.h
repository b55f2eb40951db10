// The subset of containers-registries.conf(5) version 2 that ocid honours:
// where short names are searched, and per-prefix location rewrites, TLS
// verification, blocking and mirrors.
#ifndef OCID_PKG_IMAGE_REGISTRIES_CONF_H_
#define OCID_PKG_IMAGE_REGISTRIES_CONF_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"

namespace ocid {

struct RegistryMirror {
  std::string location;   // "mirror.example.com[:port][/namespace]"
  bool insecure = false;  // plain HTTP or unverified TLS allowed
};

struct RegistryConfig {
  std::string prefix;    // "example.com[/namespace...]"; defaults to location
  std::string location;  // where the prefix's images really are; defaults to prefix
  bool insecure = false;
  bool blocked = false;                 // pulls of anything under prefix are refused
  std::vector<RegistryMirror> mirrors;  // tried in order before location
};

struct RegistriesConf {
  // Where a short name ("busybox") is looked for, in order. Docker Hub unless
  // a file says otherwise: kubelets and users expect `busybox` to pull
  // without any registries.conf on the node.
  std::vector<std::string> unqualified_search_registries = {"docker.io"};
  std::vector<RegistryConfig> registries;

  // The entry whose prefix is the longest match for `name`
  // ("registry/repository"), matching only whole path components
  // ("quay.io/a" matches "quay.io/a/b" but not "quay.io/ab"); nullptr if none.
  const RegistryConfig* Find(absl::string_view name) const;
};

// Parses registries.conf text. InvalidArgument names "file:line" and the key
// for unknown keys, wrong types, entries with neither prefix nor location, and
// duplicate prefixes. Wildcard prefixes ("*.example.com") and the keys this
// subset leaves out (aliases, short-name-mode, ...) are refused, not ignored,
// so that a policy is never silently dropped.
absl::StatusOr<RegistriesConf> ParseRegistriesConf(absl::string_view text,
                                                   absl::string_view file_name);

// Reads and parses `path`. A missing file gives the defaults (search
// docker.io, no per-registry entries); other read errors carry errno.
absl::StatusOr<RegistriesConf> LoadRegistriesConf(const std::string& path);

// The references to try for what a user asked for: a short name yields one
// candidate per unqualified-search registry, in order, skipping blocked
// ones; a qualified name yields itself. InvalidArgument for a bad reference;
// FailedPrecondition when every candidate is blocked or a short name has no
// search registry to go to.
absl::StatusOr<std::vector<ImageReference>> ResolveCandidates(absl::string_view user_input,
                                                              const RegistriesConf& conf);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_REGISTRIES_CONF_H_
