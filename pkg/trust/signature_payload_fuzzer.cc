// Parses arbitrary bytes as a simple-signing payload (what a signature's
// signer controls): no crash, and what parses names a digest and an identity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "pkg/trust/simple_signing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ocid::SimpleSigningClaims> claims = ocid::ParseSimpleSigningPayload(text);
  if (!claims.ok()) return 0;
  absl::StatusOr<ocid::ImageReference> image = ocid::ParseImageReference("quay.io/a/b:v1");
  if (!image.ok()) std::abort();
  // Any claimed identity is judged without crashing.
  ocid::SignedIdentity rule;
  ocid::CheckSignedIdentity(rule, *image, claims->docker_reference).IgnoreError();
  return 0;
}
