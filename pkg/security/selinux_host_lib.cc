// The host's SELinux through libselinux (--config=selinux).
#include <selinux/selinux.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/security/selinux.h"

namespace ocid {
namespace {

class LibSelinuxHost : public SelinuxHost {
 public:
  bool Enabled() override { return is_selinux_enabled() == 1; }

  absl::StatusOr<std::string> LxcContexts() override {
    const char* path = selinux_lxc_contexts_path();
    if (path == nullptr) return absl::NotFoundError("the SELinux policy names no lxc_contexts");
    return ReadFileToString(path, 64 << 10);
  }

  absl::Status SetFileLabel(const std::string& path, const std::string& label) override {
    if (lsetfilecon(path.c_str(), label.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("set SELinux label ", label, " on ", path));
    }
    return absl::OkStatus();
  }
};

}  // namespace

// libselinux finds selinuxfs itself.
std::unique_ptr<SelinuxHost> NewHostSelinux(const std::string& selinuxfs) {
  return std::make_unique<LibSelinuxHost>();
}

}  // namespace ocid
