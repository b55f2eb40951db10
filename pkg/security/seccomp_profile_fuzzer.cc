// Fuzz target: a seccomp profile file (the seccomp_profile key's, or a pod's
// Localhost one) is read and converted for every container that names it.
// Whatever the bytes, ConvertSeccompProfile must return (never crash or
// throw), for a plain and for a privileged capability set, and what it
// accepts must print as JSON (config.json).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "pkg/security/seccomp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> kPlain = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"};
  static const std::vector<std::string> kMore = {"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_BPF"};
  for (const std::vector<std::string>* caps : {&kPlain, &kMore}) {
    absl::StatusOr<nlohmann::json> profile = ocid::ConvertSeccompProfile(text, "fuzz.json", *caps);
    if (profile.ok()) (void)profile->dump();
  }
  return 0;
}
