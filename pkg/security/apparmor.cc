#include "pkg/security/apparmor.h"

#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr char kField[] = "config.linux.security_context.apparmor";

bool Enabled(const AppArmorHost& host) {
  absl::StatusOr<std::string> enabled = ReadFileToString(host.enabled_file, 16);
  return enabled.ok() && absl::StripAsciiWhitespace(*enabled) == "Y";
}

// Lines of the profiles file read "NAME (MODE)".
bool Loaded(const AppArmorHost& host, const std::string& name) {
  absl::StatusOr<std::string> profiles = ReadFileToString(host.profiles_file, 16 << 20);
  if (!profiles.ok()) return false;
  for (absl::string_view line : absl::StrSplit(*profiles, '\n', absl::SkipEmpty())) {
    if (line.substr(0, line.rfind(" (")) == name) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> AppArmorProfileFor(
    const cri::LinuxContainerSecurityContext& sc, const AppArmorHost& host) {
  enum class Kind { kUnconfined, kRuntimeDefault, kLocalhost } kind = Kind::kUnconfined;
  std::string name;
  if (sc.has_apparmor()) {
    switch (sc.apparmor().profile_type()) {
      case cri::SecurityProfile::RuntimeDefault:
        kind = Kind::kRuntimeDefault;
        break;
      case cri::SecurityProfile::Unconfined:
        break;
      case cri::SecurityProfile::Localhost:
        kind = Kind::kLocalhost;
        name = sc.apparmor().localhost_ref();
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(kField, ".profile_type: unknown type ", sc.apparmor().profile_type()));
    }
  } else {
    // Deprecated in the CRI, and still what older kubelets send.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    const std::string& path = sc.apparmor_profile();
#pragma GCC diagnostic pop
    if (path == "runtime/default") {
      kind = Kind::kRuntimeDefault;
    } else if (absl::StartsWith(path, "localhost/")) {
      kind = Kind::kLocalhost;
      name = path.substr(strlen("localhost/"));
    } else if (!path.empty() && path != "unconfined") {
      return absl::InvalidArgumentError(
          absl::StrCat("config.linux.security_context.apparmor_profile: \"", path,
                       "\" is not runtime/default, unconfined or localhost/<profile>"));
    }
  }
  if (kind == Kind::kUnconfined) return std::optional<std::string>();
  if (kind == Kind::kLocalhost) {
    if (name.empty())
      return absl::InvalidArgumentError(absl::StrCat(kField, ".localhost_ref is empty"));
    if (!Enabled(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          kField, ": profile \"", name, "\" asked for, and AppArmor is not enabled on this host"));
    }
    if (!Loaded(host, name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kField, ": profile \"", name, "\" is not loaded on this host"));
    }
    return std::optional<std::string>(name);
  }
  // RuntimeDefault: nothing to confine with where AppArmor is off, and a
  // privileged container runs unconfined.
  if (sc.privileged() || !Enabled(host)) return std::optional<std::string>();
  if (!host.runtime_default.empty()) {
    if (!Loaded(host, host.runtime_default)) {
      return absl::InvalidArgumentError(absl::StrCat(
          kField, ": RuntimeDefault is ocid.runtime.apparmor_profile \"", host.runtime_default,
          "\", which is not loaded on this host"));
    }
    return std::optional<std::string>(host.runtime_default);
  }
  // kubelet asks for RuntimeDefault on every AppArmor node: refusing would
  // stop every pod there. With no profile configured ocid says so (once)
  // and runs the container unconfined.
  static std::once_flag warned;
  std::call_once(warned, [] {
    OCID_LOG(kWarn) << "AppArmor RuntimeDefault asked for and ocid.runtime.apparmor_profile "
                       "names no loaded profile: containers run unconfined by AppArmor "
                       "(seccomp still applies)";
  });
  return std::optional<std::string>();
}

}  // namespace ocid
