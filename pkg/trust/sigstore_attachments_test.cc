#include "pkg/trust/sigstore_attachments.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

const std::string kHex = std::string(64, 'a');
const std::string kDigest = "sha256:" + kHex;
const std::string kTag = "sha256-" + kHex + ".sig";

std::string LayerJson(const std::string& payload, const std::string& signature,
                      const std::string& media_type = kSigstorePayloadMediaType) {
  return absl::StrCat(R"({"mediaType": ")", media_type, R"(", "digest": ")",
                      Sha256Of(payload).String(), R"(", "size": )", payload.size(),
                      R"(, "annotations": {")", kSigstoreSignatureAnnotation, R"(": ")", signature,
                      R"("}})");
}

std::string Manifest(const std::string& layers) {
  return absl::StrCat(
      R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
      "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
      "layers": [)",
      layers, "]}");
}

// A registry of manifests by tag and blobs by digest.
struct FakeRegistry {
  std::map<std::string, std::string> manifests;
  std::map<std::string, std::string> blobs;
  int blob_reads = 0;

  AttachmentSource Source() {
    AttachmentSource source;
    source.manifest = [this](const std::string& tag) -> absl::StatusOr<std::optional<std::string>> {
      auto it = manifests.find(tag);
      if (it == manifests.end()) return std::nullopt;
      return it->second;
    };
    source.blob = [this](const SigstoreLayer& layer,
                         size_t max_bytes) -> absl::StatusOr<std::string> {
      ++blob_reads;
      auto it = blobs.find(layer.digest.String());
      if (it == blobs.end()) return absl::NotFoundError("blob unknown");
      if (it->second.size() > max_bytes) return absl::OutOfRangeError("too large");
      return it->second;
    };
    return source;
  }
  void Put(const std::string& payload) { blobs[Sha256Of(payload).String()] = payload; }
};

TEST(SigstoreAttachmentsTest, TagOfADigest) {
  absl::StatusOr<std::string> tag = SigstoreAttachmentTag(kDigest);
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(*tag, kTag);
  EXPECT_FALSE(SigstoreAttachmentTag("md5:abc").ok());
}

TEST(SigstoreAttachmentsTest, ReadsEveryLayer) {
  FakeRegistry registry;
  registry.Put("one");
  registry.Put("two");
  registry.manifests[kTag] =
      Manifest(LayerJson("one", "c2lnMQ==") + "," + LayerJson("two", "c2lnMg=="));
  absl::StatusOr<std::vector<SigstoreSignature>> signatures =
      ReadSigstoreAttachments(registry.Source(), kDigest);
  ASSERT_TRUE(signatures.ok()) << signatures.status();
  ASSERT_EQ(signatures->size(), 2u);
  EXPECT_EQ((*signatures)[0].payload, "one");
  EXPECT_EQ((*signatures)[0].base64_signature, "c2lnMQ==");
  EXPECT_EQ((*signatures)[1].payload, "two");
}

TEST(SigstoreAttachmentsTest, NoTagIsNoSignatures) {
  FakeRegistry registry;
  absl::StatusOr<std::vector<SigstoreSignature>> signatures =
      ReadSigstoreAttachments(registry.Source(), kDigest);
  ASSERT_TRUE(signatures.ok()) << signatures.status();
  EXPECT_TRUE(signatures->empty());
}

TEST(SigstoreAttachmentsTest, RegistryErrorsNameTheTag) {
  FakeRegistry registry;
  AttachmentSource source = registry.Source();
  source.manifest = [](const std::string&) -> absl::StatusOr<std::optional<std::string>> {
    return absl::UnavailableError("registry down");
  };
  absl::StatusOr<std::vector<SigstoreSignature>> signatures =
      ReadSigstoreAttachments(source, kDigest);
  EXPECT_EQ(signatures.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(signatures.status().message()), HasSubstr("tag " + kTag));
}

TEST(SigstoreAttachmentsTest, RefusesBadManifestsAndPayloads) {
  auto refused = [](FakeRegistry& registry) {
    absl::StatusOr<std::vector<SigstoreSignature>> signatures =
        ReadSigstoreAttachments(registry.Source(), kDigest);
    EXPECT_FALSE(signatures.ok());
    return std::string(signatures.status().message());
  };
  FakeRegistry registry;
  registry.Put("one");
  registry.manifests[kTag] = "not json";
  EXPECT_THAT(refused(registry), HasSubstr("not a JSON object"));
  registry.manifests[kTag] =
      Manifest(LayerJson("one", "x", "application/vnd.oci.image.layer.v1.tar"));
  EXPECT_THAT(refused(registry), HasSubstr("layers[0].mediaType must be"));
  registry.manifests[kTag] =
      Manifest(absl::StrCat(R"({"mediaType": ")", kSigstorePayloadMediaType, R"(", "digest": ")",
                            Sha256Of("one").String(), R"(", "size": 3})"));
  EXPECT_THAT(refused(registry), HasSubstr("no string annotation"));
  registry.manifests[kTag] =
      Manifest(absl::StrCat(R"({"mediaType": ")", kSigstorePayloadMediaType, R"(", "digest": ")",
                            Sha256Of("one").String(), R"(", "size": 5000000, "annotations": {")",
                            kSigstoreSignatureAnnotation, R"(": "x"}})"));
  EXPECT_THAT(refused(registry), HasSubstr("larger than 4 MiB"));
  EXPECT_EQ(registry.blob_reads, 0);

  // The blob is not what the manifest says.
  registry.manifests[kTag] = Manifest(LayerJson("one", "x"));
  registry.blobs[Sha256Of("one").String()] = "ONE";
  EXPECT_THAT(refused(registry), HasSubstr("the payload's digest is " + Sha256Of("ONE").String()));
  registry.blobs[Sha256Of("one").String()] = "one!";
  EXPECT_THAT(refused(registry), HasSubstr("the payload has 4 bytes, the manifest says 3"));
  registry.blobs.clear();
  EXPECT_THAT(refused(registry), HasSubstr("layer 0"));
}

}  // namespace
}  // namespace ocid
