// The short-name alias cache: which registry a short name was first pulled
// from through the unqualified-search registries, so that it keeps meaning
// the same image (containers-registries.conf(5); containers/image keeps it
// in /var/cache/containers/short-name-aliases.conf, ocid under its root).
#ifndef OCID_PKG_IMAGE_SHORT_NAME_ALIASES_H_
#define OCID_PKG_IMAGE_SHORT_NAME_ALIASES_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

class ShortNameAliasCache {
 public:
  // Reads the cache at `path` (an [aliases] table in registries.conf's
  // TOML). A missing file is an empty cache; a malformed one, or any other
  // key in it, is an error naming the file.
  static absl::StatusOr<std::unique_ptr<ShortNameAliasCache>> Open(const std::string& path);

  // A cache of `aliases` that is only read (ocid-pull's copy of ocid's,
  // which ocid alone writes): Record is FailedPrecondition.
  static std::unique_ptr<ShortNameAliasCache> ReadOnly(std::map<std::string, std::string> aliases);

  // Short name as typed without tag or digest -> "registry/repository".
  std::map<std::string, std::string> Aliases() const;

  // Records `name` -> `repository` and rewrites the file atomically; on a
  // write error nothing changes.
  absl::Status Record(const std::string& name, const std::string& repository);

  const std::string& path() const { return path_; }

 private:
  ShortNameAliasCache(std::string path, std::map<std::string, std::string> aliases)
      : path_(std::move(path)), aliases_(std::move(aliases)) {}

  const std::string path_;
  mutable absl::Mutex mu_;
  // Held over the file's rewrite, so that records are written in order.
  std::map<std::string, std::string> aliases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_SHORT_NAME_ALIASES_H_
