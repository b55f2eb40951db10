#include "pkg/trust/registries_d.h"

#include <stdlib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'd');

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> reference = ParseImageReference(text);
  EXPECT_TRUE(reference.ok()) << reference.status();
  return *reference;
}

class TempDir {
 public:
  TempDir() {
    path_ = "/tmp/ocid-regd-test-XXXXXX";
    EXPECT_NE(::mkdtemp(path_.data()), nullptr);
  }
  ~TempDir() { RemoveAll(path_).IgnoreError(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(RegistriesDTest, MostSpecificScopeThenDefault) {
  RegistriesD config;
  ASSERT_TRUE(ParseRegistriesDFile(R"(
# comment
default-docker:
  lookaside: file:///var/lib/sigs
docker:
  example.com:
    lookaside: file:///sigs/example
  example.com/team/app:
    lookaside: file:///sigs/app
    lookaside-staging: file:///staging/app
  quay.io:
    sigstore: file:///sigs/quay
  "*.example.org":
    lookaside: file:///sigs/wild
  other.io:
    use-sigstore-attachments: false
)",
                                   "a.yaml", config)
                  .ok());
  EXPECT_EQ(config.LookasideFor(Ref("example.com/team/app:1")), "file:///sigs/app");
  EXPECT_EQ(config.docker["example.com/team/app"].lookaside_staging, "file:///staging/app");
  EXPECT_EQ(config.LookasideFor(Ref("example.com/team/other")), "file:///sigs/example");
  EXPECT_EQ(config.LookasideFor(Ref("quay.io/a/b")), "file:///sigs/quay");
  EXPECT_EQ(config.LookasideFor(Ref("x.example.org/a")), "file:///sigs/wild");
  // An entry without a lookaside falls through to less specific ones.
  EXPECT_EQ(config.LookasideFor(Ref("other.io/a")), "file:///var/lib/sigs");
  EXPECT_EQ(config.LookasideFor(Ref("busybox")), "file:///var/lib/sigs");
}

TEST(RegistriesDTest, SigstoreAttachmentsByMostSpecificScopeThatSaysSo) {
  RegistriesD config;
  ASSERT_TRUE(ParseRegistriesDFile(R"(
docker:
  a.io:
    use-sigstore-attachments: true
  a.io/team:
    lookaside: file:///sigs/team
  a.io/team/off:
    use-sigstore-attachments: false
)",
                                   "a.yaml", config)
                  .ok());
  EXPECT_TRUE(config.UseSigstoreAttachments(Ref("a.io/x:1")));
  // a.io/team does not say, so a.io's value holds.
  EXPECT_TRUE(config.UseSigstoreAttachments(Ref("a.io/team/app:1")));
  EXPECT_FALSE(config.UseSigstoreAttachments(Ref("a.io/team/off/app:1")));
  EXPECT_FALSE(config.UseSigstoreAttachments(Ref("b.io/x:1")));

  RegistriesD with_default;
  ASSERT_TRUE(ParseRegistriesDFile("default-docker:\n  use-sigstore-attachments: true\n", "d.yaml",
                                   with_default)
                  .ok());
  EXPECT_TRUE(with_default.UseSigstoreAttachments(Ref("b.io/x:1")));
}

TEST(RegistriesDTest, SignatureUrlLayout) {
  EXPECT_EQ(SignatureUrl("file:///sigs/", Ref("example.com/team/app:1"), kDigest, 2),
            "file:///sigs/team/app@sha256=" + std::string(64, 'd') + "/signature-2");
}

TEST(RegistriesDTest, BadFilesNameFileAndKey) {
  auto error = [](const std::string& text) {
    RegistriesD config;
    absl::Status status = ParseRegistriesDFile(text, "/etc/r.d/x.yaml", config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(status.message()), HasSubstr("/etc/r.d/x.yaml:"));
    return std::string(status.message());
  };
  EXPECT_THAT(error("docker: [unclosed"), HasSubstr("did not find expected"));
  EXPECT_THAT(error("dokcer:\n  a.io:\n    lookaside: x\n"), HasSubstr("unknown key \"dokcer\""));
  EXPECT_THAT(error("docker:\n  a.io:\n    lookside: x\n"), HasSubstr("unknown key \"lookside\""));
  EXPECT_THAT(error("docker:\n  a.io:\n    lookaside: [x]\n"), HasSubstr("must be a string"));
  EXPECT_THAT(error("docker:\n  a.io:\n    use-sigstore-attachments: yes please\n"),
              HasSubstr("must be true or false"));
  EXPECT_THAT(error("- a\n- b\n"), HasSubstr("must be a mapping"));
}

TEST(RegistriesDTest, DirMergesFilesAndRefusesDuplicates) {
  TempDir dir;
  ASSERT_TRUE(
      WriteFileAtomically(dir.path() + "/a.yaml", "docker:\n  a.io:\n    lookaside: file:///a\n")
          .ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir.path() + "/b.yaml", "default-docker:\n  lookaside: file:///d\n")
          .ok());
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/c.yml.bak", "nonsense: [").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/empty.yaml", "").ok());
  absl::StatusOr<RegistriesD> config = LoadRegistriesD(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->LookasideFor(Ref("a.io/x")), "file:///a");
  EXPECT_EQ(config->LookasideFor(Ref("b.io/x")), "file:///d");

  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/z.yaml",
                                  "docker:\n  a.io:\n    lookaside: file:///other\n")
                  .ok());
  absl::StatusOr<RegistriesD> duplicate = LoadRegistriesD(dir.path());
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("z.yaml"));
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("already configured"));

  absl::StatusOr<RegistriesD> missing = LoadRegistriesD(dir.path() + "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->LookasideFor(Ref("a.io/x")), "");
}

TEST(RegistriesDTest, ReadsSignaturesUntilOneIsMissing) {
  TempDir dir;
  RegistriesD config;
  config.default_docker = LookasideConfig{"file://" + dir.path(), ""};
  ImageReference image = Ref("example.com/team/app:1");
  std::string sig_dir = dir.path() + "/team/app@sha256=" + std::string(64, 'd');
  ASSERT_TRUE(MakeDirs(sig_dir, 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(sig_dir + "/signature-1", "one").ok());
  ASSERT_TRUE(WriteFileAtomically(sig_dir + "/signature-2", "two").ok());
  ASSERT_TRUE(WriteFileAtomically(sig_dir + "/signature-4", "four, after a gap").ok());
  absl::StatusOr<std::vector<std::string>> signatures =
      ReadLookasideSignatures(config, image, kDigest);
  ASSERT_TRUE(signatures.ok()) << signatures.status();
  EXPECT_THAT(*signatures, ElementsAre("one", "two"));

  absl::StatusOr<std::vector<std::string>> none =
      ReadLookasideSignatures(config, image, "sha256:" + std::string(64, 'e'));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  config.default_docker = LookasideConfig{"https://sigs.example.com", ""};
  absl::StatusOr<std::vector<std::string>> https = ReadLookasideSignatures(config, image, kDigest);
  EXPECT_EQ(https.status().code(), absl::StatusCode::kFailedPrecondition);
  config.default_docker = LookasideConfig{"ftp://sigs.example.com", ""};
  EXPECT_EQ(ReadLookasideSignatures(config, image, kDigest).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RegistriesDTest, ReadsHttpSignaturesThroughTheGetter) {
  RegistriesD config;
  config.default_docker = LookasideConfig{"https://sigs.example.com/base", ""};
  ImageReference image = Ref("example.com/team/app:1");
  const std::string dir =
      "https://sigs.example.com/base/team/app@sha256=" + std::string(64, 'd') + "/";
  std::vector<std::string> asked;
  HttpGet get = [&](const std::string& url,
                    size_t max_bytes) -> absl::StatusOr<std::optional<std::string>> {
    asked.push_back(url);
    EXPECT_EQ(max_bytes, size_t{4 << 20});
    if (url == dir + "signature-1") return std::optional<std::string>("one");
    return std::optional<std::string>();
  };
  absl::StatusOr<std::vector<std::string>> signatures =
      ReadLookasideSignatures(config, image, kDigest, get);
  ASSERT_TRUE(signatures.ok()) << signatures.status();
  EXPECT_THAT(*signatures, ElementsAre("one"));
  EXPECT_THAT(asked, ElementsAre(dir + "signature-1", dir + "signature-2"));

  HttpGet failing = [](const std::string&, size_t) -> absl::StatusOr<std::optional<std::string>> {
    return absl::UnavailableError("connection refused");
  };
  absl::StatusOr<std::vector<std::string>> failed =
      ReadLookasideSignatures(config, image, kDigest, failing);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr(dir + "signature-1"));
}

}  // namespace
}  // namespace ocid
