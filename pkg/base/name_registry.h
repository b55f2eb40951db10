// kubelet's names for pods and containers, each held by at most one ID, so
// that a retried create finds the object the first call made.
#ifndef OCID_PKG_BASE_NAME_REGISTRY_H_
#define OCID_PKG_BASE_NAME_REGISTRY_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

class NameRegistry {
 public:
  // AlreadyExists when another ID holds `name`; holding it again is fine.
  absl::Status Reserve(const std::string& name, const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto [it, added] = names_.emplace(name, id);
    if (!added && it->second != id) {
      return absl::AlreadyExistsError(
          absl::StrCat("name \"", name, "\" is reserved for ", it->second));
    }
    return absl::OkStatus();
  }

  void Release(const std::string& name) {
    absl::MutexLock lock(&mu_);
    names_.erase(name);
  }

  // The ID holding `name`, "" if none.
  std::string Holder(const std::string& name) const {
    absl::MutexLock lock(&mu_);
    auto it = names_.find(name);
    return it == names_.end() ? "" : it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_NAME_REGISTRY_H_
