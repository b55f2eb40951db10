#include "pkg/image/pinned_images.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

TEST(PinnedImagesTest, ExactGlobAndKeywordPatterns) {
  absl::StatusOr<PinnedImages> pinned = PinnedImages::Parse(
      {"registry.k8s.io/pause:3.9", "quay.io/infra/*", "*coredns*"});
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE(pinned->Matches("registry.k8s.io/pause:3.9"));
  EXPECT_FALSE(pinned->Matches("registry.k8s.io/pause:3.10"));  // exact is whole
  EXPECT_TRUE(pinned->Matches("quay.io/infra/agent:1"));
  EXPECT_FALSE(pinned->Matches("quay.io/other/agent:1"));
  EXPECT_TRUE(pinned->Matches("registry.k8s.io/coredns/coredns:v1.11"));
  EXPECT_FALSE(pinned->Matches("docker.io/library/busybox:latest"));
}

TEST(PinnedImagesTest, AnImageIsPinnedByAnyOfItsNames) {
  absl::StatusOr<PinnedImages> pinned = PinnedImages::Parse({"docker.io/library/busybox:1.36"});
  ASSERT_TRUE(pinned.ok());
  ImageRecord image;
  image.repo_tags = {"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"};
  EXPECT_TRUE(pinned->Pins(image));
  image.repo_tags = {"docker.io/library/busybox:latest"};
  EXPECT_FALSE(pinned->Pins(image));
  image.repo_digests = {"docker.io/library/busybox:1.36"};  // digests count too
  EXPECT_TRUE(pinned->Pins(image));
  EXPECT_FALSE(PinnedImages().Pins(image));
}

TEST(PinnedImagesTest, AWildcardAnywhereElseIsRefusedNamingTheKey) {
  for (const char* bad : {"", "*", "**", "a*b", "*a*b*", "*a"}) {
    absl::StatusOr<PinnedImages> pinned = PinnedImages::Parse({bad});
    ASSERT_FALSE(pinned.ok()) << bad;
    EXPECT_THAT(std::string(pinned.status().message()), HasSubstr("ocid.image.pinned_images"));
  }
}

}  // namespace
}  // namespace ocid
