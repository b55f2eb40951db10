// A test signer for e2e tests of sigstore signatures:
//   sigstore_test_signer keygen PRIVATE.pem PUBLIC.pem
//   sigstore_test_signer payload DIGEST REFERENCE    (prints the payload)
//   sigstore_test_signer sign PRIVATE.pem PAYLOAD     (prints the base64 signature)
#include <iostream>

#include "absl/status/statusor.h"
#include "pkg/base/fs.h"
#include "pkg/trust/testing/sigstore_signer.h"

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "sigstore_test_signer: " << status << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "keygen" && argc == 4) {
    absl::StatusOr<ocid::SigstoreTestSigner> signer = ocid::SigstoreTestSigner::Generate();
    if (!signer.ok()) return Fail(signer.status());
    absl::StatusOr<std::string> private_pem = signer->PrivatePem();
    absl::StatusOr<std::string> public_pem = signer->PublicPem();
    if (!private_pem.ok()) return Fail(private_pem.status());
    if (!public_pem.ok()) return Fail(public_pem.status());
    absl::Status written = ocid::WriteFileAtomically(argv[2], *private_pem,
                                                     0600, ocid::Durability::kVolatile);
    if (written.ok()) written = ocid::WriteFileAtomically(argv[3], *public_pem,
                                                          0644, ocid::Durability::kVolatile);
    return written.ok() ? 0 : Fail(written);
  }
  if (command == "payload" && argc == 4) {
    std::cout << ocid::SigstoreTestSigner::Payload(argv[2], argv[3]);
    return 0;
  }
  if (command == "sign" && argc == 4) {
    absl::StatusOr<std::string> pem = ocid::ReadFileToString(argv[2], 1 << 20);
    if (!pem.ok()) return Fail(pem.status());
    absl::StatusOr<ocid::SigstoreTestSigner> signer =
        ocid::SigstoreTestSigner::FromPrivatePem(*pem);
    if (!signer.ok()) return Fail(signer.status());
    absl::StatusOr<std::string> payload = ocid::ReadFileToString(argv[3], 4 << 20);
    if (!payload.ok()) return Fail(payload.status());
    absl::StatusOr<std::string> signature = signer->SignBase64(*payload);
    if (!signature.ok()) return Fail(signature.status());
    std::cout << *signature;
    return 0;
  }
  std::cerr << "usage: sigstore_test_signer keygen PRIVATE.pem PUBLIC.pem\n"
               "       sigstore_test_signer payload DIGEST REFERENCE\n"
               "       sigstore_test_signer sign PRIVATE.pem PAYLOAD\n";
  return 2;
}
