#include "pkg/trust/sigstore_key.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/trust/testing/sigstore_signer.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

SigstoreTestSigner Signer(const std::string& curve = "P-256") {
  absl::StatusOr<SigstoreTestSigner> signer = SigstoreTestSigner::Generate(curve);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return std::move(*signer);
}

SigstorePublicKey KeyOf(const SigstoreTestSigner& signer) {
  absl::StatusOr<std::string> pem = signer.PublicPem();
  EXPECT_TRUE(pem.ok());
  absl::StatusOr<SigstorePublicKey> key = SigstorePublicKey::FromPem(*pem);
  EXPECT_TRUE(key.ok()) << key.status();
  return std::move(*key);
}

TEST(SigstorePublicKeyTest, VerifiesItsKeysSignatures) {
  SigstoreTestSigner signer = Signer();
  SigstorePublicKey key = KeyOf(signer);
  absl::StatusOr<std::string> signature = signer.SignDer("payload");
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(key.Verify("payload", *signature).ok());
  // Other bytes, or another key: no.
  absl::Status other_data = key.Verify("payloaD", *signature);
  EXPECT_EQ(other_data.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(other_data.message()), HasSubstr("does not verify"));
  SigstorePublicKey other_key = KeyOf(Signer());
  EXPECT_THAT(std::string(other_key.Verify("payload", *signature).message()),
              HasSubstr("does not verify"));
}

TEST(SigstorePublicKeyTest, MalformedDerIsSaidSo) {
  SigstoreTestSigner signer = Signer();
  SigstorePublicKey key = KeyOf(signer);
  absl::StatusOr<std::string> signature = signer.SignDer("payload");
  ASSERT_TRUE(signature.ok());
  std::string trailing = *signature + std::string(1, '\0');
  std::string truncated = signature->substr(0, signature->size() - 1);
  // A long-form length where the short form fits is BER, not DER.
  std::string ber =
      std::string("\x30\x81", 2) + static_cast<char>((*signature)[1]) + signature->substr(2);
  for (const std::string& bad : {std::string(), std::string("garbage"), trailing, truncated, ber}) {
    absl::Status status = key.Verify("payload", bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("not an ASN.1 DER ECDSA signature"));
  }
}

TEST(SigstorePublicKeyTest, RefusesWhatIsNotAP256PublicKey) {
  EXPECT_THAT(std::string(SigstorePublicKey::FromPem("not a key").status().message()),
              HasSubstr("not a PEM public key"));
  absl::StatusOr<std::string> p384 = Signer("P-384").PublicPem();
  ASSERT_TRUE(p384.ok());
  EXPECT_THAT(std::string(SigstorePublicKey::FromPem(*p384).status().message()),
              HasSubstr("not P-256"));
  // A private key is not a public key.
  absl::StatusOr<std::string> private_pem = Signer().PrivatePem();
  ASSERT_TRUE(private_pem.ok());
  EXPECT_FALSE(SigstorePublicKey::FromPem(*private_pem).ok());
}

}  // namespace
}  // namespace ocid
