// The subset of containers-registries.conf(5) version 2 that ocid honours:
// where short names are searched and how (short-name-mode, [aliases]), and
// per-prefix location rewrites, TLS verification, blocking and mirrors;
// with the drop-ins of registries.conf.d.
#ifndef OCID_PKG_IMAGE_REGISTRIES_CONF_H_
#define OCID_PKG_IMAGE_REGISTRIES_CONF_H_

#include <map>
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

// How a short name with no alias is resolved (containers-registries.conf(5)).
enum class ShortNameMode {
  // More than one search registry is an error (there is no TTY to ask on);
  // with one, it is used and the alias recorded.
  kEnforcing,
  // Every search registry in order; the one that pulls is recorded.
  kPermissive,
  // Every search registry in order; nothing is recorded.
  kDisabled,
};

// "enforcing", "permissive", "disabled".
absl::string_view ShortNameModeName(ShortNameMode mode);

struct RegistriesConf {
  // Where a short name ("busybox") is looked for, in order. Docker Hub unless
  // a file says otherwise: kubelets and users expect `busybox` to pull
  // without any registries.conf on the node.
  std::vector<std::string> unqualified_search_registries = {"docker.io"};
  // containers/image's default.
  ShortNameMode short_name_mode = ShortNameMode::kEnforcing;
  // Short name as typed without tag or digest ("busybox", "ns/app") ->
  // "registry/repository", normalized ("docker.io/library/busybox").
  std::map<std::string, std::string> aliases;
  std::vector<RegistryConfig> registries;

  // The entry whose prefix is the longest match for `name`
  // ("registry/repository"), matching only whole path components
  // ("quay.io/a" matches "quay.io/a/b" but not "quay.io/ab"); nullptr if none.
  const RegistryConfig* Find(absl::string_view name) const;
};

// Parses registries.conf text. InvalidArgument names "file:line" and the key
// for unknown keys, wrong types, an unknown short-name-mode, an alias that
// is not a short name or whose value is not a qualified repository (neither
// may have a tag or digest), entries with neither prefix nor location, and
// duplicate prefixes. Wildcard prefixes ("*.example.com") and the keys this
// subset leaves out (credential-helpers, ...) are refused, not ignored, so
// that a policy is never silently dropped.
absl::StatusOr<RegistriesConf> ParseRegistriesConf(absl::string_view text,
                                                   absl::string_view file_name);

// Applies a drop-in's keys over `conf` (containers-registries.conf(5)): a key
// it sets replaces the earlier value, [aliases] are merged per alias and
// [[registry]] entries per prefix. On error `conf` is unchanged.
absl::Status MergeRegistriesConf(absl::string_view text, absl::string_view file_name,
                                 RegistriesConf& conf);

// The drop-in dir of the registries.conf at `path`: "<path>.d"
// (/etc/containers/registries.conf.d for the default file).
std::string RegistriesConfDropInDir(const std::string& path);

// Reads and parses `path`, then merges RegistriesConfDropInDir(path)'s
// "*.conf" files in lexical order. A missing file or dir gives the defaults
// (search docker.io, enforcing, no aliases or per-registry entries); other
// read errors carry errno and the path.
absl::StatusOr<RegistriesConf> LoadRegistriesConf(const std::string& path);

// One file of a registries.conf as read: the main file first (if it exists),
// then its drop-ins in the order they apply.
struct RegistriesConfFile {
  std::string path;
  std::string text;
  bool drop_in = false;
};

// What LoadRegistriesConf reads, unparsed: so that ocid-pull parses exactly
// the text ocid loaded (a file changed since, without a reload, is not used).
absl::StatusOr<std::vector<RegistriesConfFile>> ReadRegistriesConfFiles(const std::string& path);
// Parses what ReadRegistriesConfFiles read, as LoadRegistriesConf does.
absl::StatusOr<RegistriesConf> ParseRegistriesConfFiles(
    const std::vector<RegistriesConfFile>& files);

// What a user's image name is tried as.
struct ResolvedName {
  // The references to try, in order.
  std::vector<ImageReference> candidates;
  // When not empty, the alias to record (the short name as typed, without
  // tag or digest) for the candidate that pulls: it was found through the
  // search registries in a mode that records.
  std::string record_alias;
};

// The references to try for what a user asked for. A qualified name yields
// itself. A short name yields its alias (registries.conf's [aliases] first,
// then `cached_aliases`, the short-name alias cache) with the tag or digest
// given; without one, a candidate per unqualified-search registry, in order,
// skipping blocked ones, as short_name_mode allows. InvalidArgument for a
// bad reference; FailedPrecondition when every candidate is blocked, a
// short name has no search registry to go to, or (enforcing) the short
// name has no alias and more than one candidate (the message lists them).
absl::StatusOr<ResolvedName> ResolveCandidates(
    absl::string_view user_input, const RegistriesConf& conf,
    const std::map<std::string, std::string>& cached_aliases = {});

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_REGISTRIES_CONF_H_
