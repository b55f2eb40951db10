// Parses arbitrary bytes as a policy.json. A policy that parses must give
// every image some requirements (its default at least), never none.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "pkg/trust/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ocid::Policy> policy = ocid::ParsePolicy(text, "fuzz.json");
  if (!policy.ok()) return 0;
  for (const char* image : {"quay.io/a/b:c", "a.example.com/x", "localhost:5000/ns/r:tag"}) {
    absl::StatusOr<ocid::ImageReference> reference = ocid::ParseImageReference(image);
    if (!reference.ok()) std::abort();
    absl::StatusOr<ocid::ScopedRequirements> found = policy->RequirementsFor("docker", *reference);
    if (!found.ok() || found->requirements == nullptr || found->requirements->empty()) {
      std::fprintf(stderr, "a parsed policy gives %s no requirements\n", image);
      std::abort();
    }
  }
  return 0;
}
