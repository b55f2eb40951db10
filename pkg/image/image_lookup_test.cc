#include "pkg/image/image_lookup.h"

#include <cstdlib>
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;

const std::vector<std::string> kSearch = {"127.0.0.1:5000", "quay.io", "docker.io"};

TEST(LookupNamesTest, QualifiedNamesAreNormalizedOnly) {
  EXPECT_THAT(LookupNames("docker.io/busybox", kSearch),
              ElementsAre("docker.io/library/busybox:latest"));
  EXPECT_THAT(LookupNames("index.docker.io/library/busybox:1", kSearch),
              ElementsAre("docker.io/library/busybox:1"));
  EXPECT_THAT(LookupNames("127.0.0.1:5000/busybox:latest", kSearch),
              ElementsAre("127.0.0.1:5000/busybox:latest"));
  EXPECT_THAT(LookupNames("localhost/app", kSearch), ElementsAre("localhost/app:latest"));
}

TEST(LookupNamesTest, ShortNamesTryDockerHubThenEachSearchRegistry) {
  EXPECT_THAT(LookupNames("busybox", kSearch),
              ElementsAre("docker.io/library/busybox:latest", "127.0.0.1:5000/busybox:latest",
                          "quay.io/busybox:latest"));
  EXPECT_THAT(LookupNames("library/busybox:1.36", kSearch),
              ElementsAre("docker.io/library/busybox:1.36", "127.0.0.1:5000/library/busybox:1.36",
                          "quay.io/library/busybox:1.36"));
  EXPECT_THAT(LookupNames("busybox", {}), ElementsAre("docker.io/library/busybox:latest"));
}

TEST(LookupNamesTest, ADigestWinsOverATag) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_THAT(LookupNames("busybox:1@" + digest, {"quay.io"}),
              ElementsAre("docker.io/library/busybox@" + digest, "quay.io/busybox@" + digest));
}

TEST(LookupNamesTest, InvalidInputHasNoNames) {
  EXPECT_TRUE(LookupNames("Not/Valid", kSearch).empty());
  EXPECT_TRUE(LookupNames("", kSearch).empty());
}

class LookupImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string root = std::string(std::getenv("TEST_TMPDIR")) + "/lookup-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    store_ = std::move(*ImageStore::Open(root));
  }

  ImageRecord Put(const std::string& seed, std::vector<std::string> tags) {
    ImageRecord image;
    image.id = Sha256Of("config-" + seed);
    image.manifest_digest = Sha256Of("manifest-" + seed);
    for (const std::string& tag : tags) {
      image.repo_digests.push_back(tag.substr(0, tag.rfind(':')) + "@" +
                                   image.manifest_digest.String());
    }
    image.repo_tags = std::move(tags);
    EXPECT_TRUE(store_->Put(image).ok());
    return image;
  }

  std::unique_ptr<ImageStore> store_;
};

TEST_F(LookupImageTest, ShortNamePulledFromASearchRegistryIsFoundByIt) {
  ImageRecord busybox = Put("busybox", {"127.0.0.1:5000/busybox:latest"});
  for (const char* name : {"busybox", "busybox:latest", "127.0.0.1:5000/busybox"}) {
    std::optional<ImageMatch> match = LookupImage(*store_, kSearch, name);
    ASSERT_TRUE(match.has_value()) << name;
    EXPECT_EQ(match->image.id, busybox.id);
    EXPECT_EQ(match->name, "127.0.0.1:5000/busybox:latest");
    EXPECT_TRUE(match->by_tag);
  }
  // Without that search registry the short name means Docker Hub's only.
  EXPECT_FALSE(LookupImage(*store_, {"docker.io"}, "busybox:latest").has_value());
  EXPECT_FALSE(LookupImage(*store_, kSearch, "busybox:other").has_value());
  EXPECT_FALSE(LookupImage(*store_, kSearch, "quay.io/busybox").has_value());
}

TEST_F(LookupImageTest, DockerHubFormComesFirst) {
  ImageRecord hub = Put("hub", {"docker.io/library/busybox:latest"});
  ImageRecord local = Put("local", {"127.0.0.1:5000/busybox:latest"});
  EXPECT_EQ(LookupImage(*store_, kSearch, "busybox")->image.id, hub.id);
  EXPECT_EQ(LookupImage(*store_, kSearch, "library/busybox")->image.id, hub.id);
  EXPECT_EQ(LookupImage(*store_, kSearch, "docker.io/busybox")->image.id, hub.id);
  EXPECT_EQ(LookupImage(*store_, kSearch, "127.0.0.1:5000/busybox")->image.id, local.id);
}

TEST_F(LookupImageTest, ByIdAndByDigest) {
  ImageRecord busybox = Put("busybox", {"127.0.0.1:5000/busybox:latest"});
  std::optional<ImageMatch> match = LookupImage(*store_, kSearch, busybox.id.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->name, "");
  EXPECT_FALSE(match->by_tag);
  EXPECT_EQ(LookupImage(*store_, kSearch, busybox.id.hex)->image.id, busybox.id);

  match = LookupImage(*store_, kSearch, "busybox@" + busybox.manifest_digest.String());
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->name, "127.0.0.1:5000/busybox@" + busybox.manifest_digest.String());
  EXPECT_FALSE(match->by_tag);
}

}  // namespace
}  // namespace ocid
