// Parses arbitrary bytes as a registries.d YAML file (libyaml underneath):
// no crash or endless loop, aliases and anchors included.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "pkg/trust/registries_d.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  ocid::RegistriesD config;
  if (!ocid::ParseRegistriesDFile(text, "fuzz.yaml", config).ok()) return 0;
  absl::StatusOr<ocid::ImageReference> image = ocid::ParseImageReference("quay.io/a/b:v1");
  if (image.ok()) config.LookasideFor(*image);
  return 0;
}
