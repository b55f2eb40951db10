// The host's SELinux for a build without libselinux: selinuxfs says whether
// it is on, /etc/selinux/config which policy's lxc_contexts applies, and
// labels are the security.selinux xattr written directly.
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "pkg/base/fs.h"
#include "pkg/security/selinux.h"

namespace ocid {
namespace {

class FileSelinuxHost : public SelinuxHost {
 public:
  explicit FileSelinuxHost(std::string selinuxfs) : selinuxfs_(std::move(selinuxfs)) {}

  bool Enabled() override { return ::access((selinuxfs_ + "/enforce").c_str(), F_OK) == 0; }

  absl::StatusOr<std::string> LxcContexts() override {
    absl::StatusOr<std::string> config = ReadFileToString("/etc/selinux/config", 64 << 10);
    if (!config.ok()) return config.status();
    std::string type = "targeted";
    for (absl::string_view line : absl::StrSplit(*config, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "SELINUXTYPE=")) type = std::string(line);
    }
    return ReadFileToString(absl::StrCat("/etc/selinux/", type, "/contexts/lxc_contexts"),
                            64 << 10);
  }

  absl::Status SetFileLabel(const std::string& path, const std::string& label) override {
    // As libselinux writes it: the context with its NUL.
    if (::lsetxattr(path.c_str(), "security.selinux", label.c_str(), label.size() + 1, 0) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("set SELinux label ", label, " on ", path));
    }
    return absl::OkStatus();
  }

 private:
  std::string selinuxfs_;
};

}  // namespace

std::unique_ptr<SelinuxHost> NewHostSelinux(const std::string& selinuxfs) {
  return std::make_unique<FileSelinuxHost>(selinuxfs);
}

}  // namespace ocid
