// Parses arbitrary bytes as an image reference. A reference that parses must
// be a fixed point of normalization: String() parses back to the same
// String(), or stored image names would drift from one lookup to the next.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ocid::ImageReference> ref = ocid::ParseImageReference(text);
  if (!ref.ok()) return 0;
  std::string first = ref->String();
  absl::StatusOr<ocid::ImageReference> again = ocid::ParseImageReference(first);
  if (!again.ok() || again->String() != first || *again != *ref) {
    std::fprintf(stderr, "reference %s does not round-trip\n", first.c_str());
    std::abort();
  }
  // Whatever parses as a short name must also say so after normalization.
  if (ocid::IsShortName(first)) {
    std::fprintf(stderr, "normalized %s looks like a short name\n", first.c_str());
    std::abort();
  }
  return 0;
}
