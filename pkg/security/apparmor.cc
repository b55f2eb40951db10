#include "pkg/security/apparmor.h"

#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/subprocess.h"

namespace ocid {

// apparmor_default.tmpl, compiled in (the genrule in BUILD.bazel).
absl::string_view DefaultAppArmorProfileTemplate();

namespace {

namespace cri = ::runtime::v1;

constexpr char kField[] = "config.linux.security_context.apparmor";

bool Enabled(const AppArmorHost& host) {
  return host.built_in && AppArmorEnabled(host.enabled_file);
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

// Runs `parser -Kr` (replace, and keep no cache) on the profile text.
absl::Status RunParser(const AppArmorHost& host, const std::string& text) {
  Subprocess::Options options;
  options.argv = {host.parser, "-Kr"};
  options.stdin_io = Stdio::Data(text);
  auto result = RunCommand(std::move(options), absl::Seconds(60));
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kField, ": RuntimeDefault needs AppArmor profile \"", kDefaultAppArmorProfile,
                     "\", and ", host.parser, " could not run: ", result.status().message()));
  }
  if (!ExitedZero(result->wait_status)) {
    return absl::FailedPreconditionError(absl::StrCat(
        kField, ": RuntimeDefault needs AppArmor profile \"", kDefaultAppArmorProfile, "\", and ",
        host.parser, " -Kr failed to load it (", DescribeWaitStatus(result->wait_status),
        "): ", absl::StripAsciiWhitespace(result->stderr_data)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultAppArmorProfileText(absl::string_view name) {
  return absl::StrReplaceAll(DefaultAppArmorProfileTemplate(), {{"{{NAME}}", name}});
}

absl::Status AppArmorDefaultLoader::EnsureLoaded(const AppArmorHost& host) {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](bool* loading) { return !*loading; }, &loading_));
    if (loaded_) return absl::OkStatus();
    loading_ = true;
  }
  absl::Status status;
  bool ran = false;
  if (!Loaded(host, kDefaultAppArmorProfile)) {
    ran = true;
    status = RunParser(host, DefaultAppArmorProfileText());
  }
  absl::MutexLock lock(&mu_);
  loading_ = false;
  if (ran) ++parser_runs_;
  if (status.ok()) loaded_ = true;
  return status;
}

int AppArmorDefaultLoader::parser_runs() const {
  absl::MutexLock lock(&mu_);
  return parser_runs_;
}

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
    if (!host.built_in) {
      return absl::InvalidArgumentError(
          absl::StrCat(kField, ": profile \"", name,
                       "\" asked for, and ocid was built without apparmor (bazel build "
                       "--config=apparmor)"));
    }
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
  // RuntimeDefault: nothing to confine with where AppArmor is off (or not
  // built in), and a privileged container runs unconfined.
  if (sc.privileged()) return std::optional<std::string>();
  if (!Enabled(host)) {
    if (!host.built_in && AppArmorEnabled(host.enabled_file)) {
      static std::once_flag warned;
      std::call_once(warned, [] {
        OCID_LOG(kWarn) << "AppArmor is enabled on this host and ocid was built without it "
                           "(--config=apparmor): RuntimeDefault containers run unconfined by "
                           "AppArmor (seccomp still applies)";
      });
    }
    return std::optional<std::string>();
  }
  if (!host.runtime_default.empty()) {
    if (!Loaded(host, host.runtime_default)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kField, ": RuntimeDefault is ocid.runtime.apparmor_profile \"",
                       host.runtime_default, "\", which is not loaded on this host"));
    }
    return std::optional<std::string>(host.runtime_default);
  }
  if (host.loader == nullptr) return absl::InternalError("AppArmorHost without a loader");
  RETURN_IF_ERROR(host.loader->EnsureLoaded(host));
  return std::optional<std::string>(kDefaultAppArmorProfile);
}

}  // namespace ocid
