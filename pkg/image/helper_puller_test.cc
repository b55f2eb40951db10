// ocid's side of a pull against fake helpers (shell scripts): a helper's
// error keeps its code and message; one that dies, talks nonsense or
// reports a layer it did not make is a clear error; what a helper leaves
// half made is cleaned up; a result is published as the image record.
#include "pkg/image/helper_puller.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

class HelperPullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/helper_puller_test.XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    storage_ = dir_ + "/storage";
    blobs_ = *BlobStore::Open(storage_ + "/content");
    layers_ = *LayerStore::Open(storage_ + "/layers");
    images_ = *ImageStore::Open(storage_ + "/images");
  }
  void TearDown() override { RemoveAll(dir_).IgnoreError(); }

  // A helper that runs `script` (sh), with the request on stdin and fd 3
  // for its replies.
  std::unique_ptr<HelperPuller> WithHelper(const std::string& script) {
    std::string path = dir_ + "/helper.sh";
    std::ofstream(path) << "#!/bin/sh\n" << script << "\n";
    ::chmod(path.c_str(), 0755);
    return WithBinary(path);
  }

  std::unique_ptr<HelperPuller> WithBinary(const std::string& path) {
    PullConfigPaths paths{dir_ + "/registries.conf", dir_ + "/policy.json", dir_ + "/registries.d",
                          ""};
    std::ofstream(paths.signature_policy) << R"({"default": [{"type": "insecureAcceptAnything"}]})";
    absl::StatusOr<PullConfig> config = PullConfig::Load(paths);
    EXPECT_TRUE(config.ok()) << config.status();
    HelperPullerOptions options;
    options.helper = path;
    options.storage_root = storage_;
    return std::make_unique<HelperPuller>(*blobs_, *layers_, *images_, std::move(*config), options,
                                          nullptr);
  }

  std::string dir_, storage_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<LayerStore> layers_;
  std::unique_ptr<ImageStore> images_;
};

TEST_F(HelperPullerTest, TheHelpersErrorKeepsItsCodeAndMessage) {
  auto puller = WithHelper(
      R"(cat >/dev/null; echo '{"error": {"code": 9, "message": "SignatureValidationFailed: no"}}' >&3)");
  absl::StatusOr<ImageRecord> pulled = puller->Pull("x.io/busybox:latest", {});
  EXPECT_EQ(pulled.status(), absl::FailedPreconditionError("SignatureValidationFailed: no"));
}

TEST_F(HelperPullerTest, AHelperThatDiesIsAClearError) {
  // Half a download left behind, as a helper killed mid-blob leaves it.
  auto puller = WithHelper("cat >/dev/null; echo partial >" + storage_ +
                           "/content/ingest/x.tmp; echo 'fetching...' >&2; "
                           R"(printf '{"progress": {"layers_total": 1}}\n{"res' >&3; kill -9 $$)");
  absl::StatusOr<ImageRecord> pulled = puller->Pull("x.io/busybox:latest", {});
  EXPECT_TRUE(absl::IsInternal(pulled.status())) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("ocid-pull killed by signal 9"));
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("cut short"));
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("fetching..."));
  EXPECT_EQ(access((storage_ + "/content/ingest/x.tmp").c_str(), F_OK), -1);
  EXPECT_FALSE(puller->Progress("x.io/busybox:latest").has_value());
}

TEST_F(HelperPullerTest, AHelperThatExitsSilentlyOrTalksNonsenseIsAClearError) {
  auto silent = WithHelper("exit 4");
  absl::StatusOr<ImageRecord> pulled = silent->Pull("x.io/busybox:latest", {});
  EXPECT_TRUE(absl::IsInternal(pulled.status()));
  EXPECT_THAT(std::string(pulled.status().message()),
              HasSubstr("ocid-pull exit status 4 (ocid-pull ended without a result or an error)"));

  auto nonsense = WithHelper("cat >/dev/null; echo 'hello' >&3; sleep 30");
  pulled = nonsense->Pull("x.io/busybox:latest", {});
  EXPECT_TRUE(absl::IsInternal(pulled.status()));
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("malformed reply from ocid-pull"));
}

TEST_F(HelperPullerTest, AResultIsPublishedAndALayerLeftHalfUnpackedGoes) {
  ASSERT_TRUE(MakeDirs(storage_ + "/layers/.unpack-abc-123/diff", 0755).ok());
  std::string hex(64, 'c');
  std::string layer = storage_ + "/layers/" + hex;
  std::string record_json = absl::StrCat(R"({\"version\": 1, \"chain_id\": \"sha256:)", hex,
                                         R"(\", \"diff_id\": \"sha256:)", hex,
                                         R"(\", \"parent\": \"\", \"unpacked_size\": 10})");
  std::string image = absl::StrCat(
      R"({\"id\": \"sha256:)", std::string(64, 'a'),
      R"(\", \"repo_tags\": [\"x.io/busybox:latest\"], \"manifest_digest\": \"sha256:)",
      std::string(64, 'b'), R"(\", \"layers\": [\"sha256:)", hex, R"(\"], \"size\": 11})");
  auto puller = WithHelper(absl::StrCat("cat >/dev/null; mkdir -p ", layer, "/diff; echo \"",
                                        record_json, "\" >", layer, "/layer.json; ",
                                        "echo '{\"result\": {\"record\": \"", image, "\"}}' >&3"));
  absl::StatusOr<ImageRecord> pulled = puller->Pull("x.io/busybox:latest", {});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(pulled->id.hex, std::string(64, 'a'));
  EXPECT_TRUE(images_->Find("x.io/busybox:latest").has_value());
  EXPECT_TRUE(layers_->Get(*ParseDigest("sha256:" + hex)).has_value());
  EXPECT_EQ(access((storage_ + "/layers/.unpack-abc-123").c_str(), F_OK), -1);
}

TEST_F(HelperPullerTest, AResultNamingALayerNotInTheStoreIsRefused) {
  std::string image = absl::StrCat(
      R"({\"id\": \"sha256:)", std::string(64, 'a'), R"(\", \"manifest_digest\": \"sha256:)",
      std::string(64, 'b'), R"(\", \"layers\": [\"sha256:)", std::string(64, 'd'), R"(\"]})");
  auto puller = WithHelper(
      absl::StrCat("cat >/dev/null; echo '{\"result\": {\"record\": \"", image, "\"}}' >&3"));
  absl::StatusOr<ImageRecord> pulled = puller->Pull("x.io/busybox:latest", {});
  EXPECT_TRUE(absl::IsInternal(pulled.status()));
  EXPECT_THAT(std::string(pulled.status().message()), HasSubstr("not in the store"));
  EXPECT_TRUE(images_->List().empty());
}

// The real ocid-pull: a registry nobody serves fails the pull with the
// puller's error, code and all, and leaves nothing behind.
TEST_F(HelperPullerTest, TheRealHelpersErrorComesBack) {
  char real[PATH_MAX];
  ASSERT_NE(::realpath("cmd/ocid/ocid-pull", real), nullptr);
  auto puller = WithBinary(real);
  absl::StatusOr<ImageRecord> pulled = puller->Pull("127.0.0.1:1/nobody/here:latest", {});
  EXPECT_FALSE(pulled.ok());
  EXPECT_FALSE(absl::IsInternal(pulled.status())) << pulled.status();
  EXPECT_THAT(std::string(pulled.status().message()),
              HasSubstr("pull 127.0.0.1:1/nobody/here:latest"));
  EXPECT_TRUE(images_->List().empty());
  EXPECT_TRUE(layers_->List().empty());
}

}  // namespace
}  // namespace ocid
