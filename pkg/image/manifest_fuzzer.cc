// Fuzz target: manifests, indexes and image configs are untrusted registry
// bytes. Every input is parsed under each media type a registry may claim;
// nothing may crash or throw, whatever the result.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "pkg/image/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  static constexpr const char* kContentTypes[] = {
      "",
      "application/json",
      ocid::kMediaTypeDockerManifest,
      ocid::kMediaTypeDockerManifestList,
      ocid::kMediaTypeOciManifest,
      ocid::kMediaTypeOciIndex,
      ocid::kMediaTypeDockerSchema1SignedManifest,
      "application/vnd.example.unknown",
  };
  for (const char* content_type : kContentTypes) {
    absl::StatusOr<ocid::ParsedManifest> parsed = ocid::ParseManifest(content_type, body);
    if (parsed.ok() && parsed->index.has_value()) {
      (void)ocid::SelectPlatform(*parsed->index);
      (void)ocid::SelectPlatform(*parsed->index, "linux", "arm64", "v8");
    }
  }
  (void)ocid::ParseImageConfig(body);
  return 0;
}
