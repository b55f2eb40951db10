#include "pkg/storage/image_store.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ImageRecord MakeImage(const std::string& seed, std::vector<std::string> tags) {
  ImageRecord image;
  image.id = Sha256Of("config-" + seed);
  image.manifest_digest = Sha256Of("manifest-" + seed);
  image.repo_tags = std::move(tags);
  image.repo_digests = {"docker.io/library/" + seed + "@" + image.manifest_digest.String()};
  image.layers = {Sha256Of("layer-" + seed)};
  image.size = 1234;
  return image;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::string(getenv("TEST_TMPDIR")) + "/images-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    store_ = std::move(*ImageStore::Open(root_));
  }
  std::string root_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, FindsByIdPrefixTagAndDigestAndSurvivesReopen) {
  ImageRecord busybox = MakeImage("busybox", {"docker.io/library/busybox:latest"});
  ASSERT_TRUE(store_->Put(busybox).ok());
  EXPECT_EQ(store_->Find(busybox.id.String())->id, busybox.id);
  EXPECT_EQ(store_->Find(busybox.id.hex)->id, busybox.id);
  EXPECT_EQ(store_->Find(busybox.id.hex.substr(0, 12))->id, busybox.id);
  EXPECT_EQ(store_->Find("docker.io/library/busybox:latest")->id, busybox.id);
  EXPECT_EQ(store_->Find(busybox.repo_digests[0])->id, busybox.id);
  EXPECT_FALSE(store_->Find("docker.io/library/busybox:other").has_value());
  EXPECT_FALSE(store_->Find("ab").has_value()) << "too short a prefix";

  auto reopened = ImageStore::Open(root_);
  ASSERT_TRUE(reopened.ok());
  auto found = (*reopened)->Find("docker.io/library/busybox:latest");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->layers, busybox.layers);
  EXPECT_EQ(found->size, 1234);
}

TEST_F(ImageStoreTest, AmbiguousIdPrefixFindsNothingAndIdsWithPrefixSaysWhy) {
  // Seeds whose IDs share 3 hex digits.
  std::map<std::string, std::string> by_prefix;
  std::string first, second;
  for (int i = 0; second.empty(); ++i) {
    std::string seed = "s" + std::to_string(i);
    auto [it, added] = by_prefix.emplace(Sha256Of("config-" + seed).hex.substr(0, 3), seed);
    if (!added) first = it->second, second = seed;
  }
  ImageRecord a = MakeImage(first, {});
  ImageRecord b = MakeImage(second, {});
  ASSERT_TRUE(store_->Put(a).ok());
  ASSERT_TRUE(store_->Put(b).ok());
  std::string prefix = a.id.hex.substr(0, 3);
  EXPECT_FALSE(store_->Find(prefix).has_value());
  EXPECT_FALSE(store_->Find("sha256:" + prefix).has_value());
  // In ID order.
  const Digest& low = a.id.hex < b.id.hex ? a.id : b.id;
  const Digest& high = a.id.hex < b.id.hex ? b.id : a.id;
  EXPECT_THAT(store_->IdsWithPrefix(prefix), ElementsAre(low, high));
  EXPECT_THAT(store_->IdsWithPrefix("sha256:" + prefix), ElementsAre(low, high));
  EXPECT_THAT(store_->IdsWithPrefix(a.id.hex), ElementsAre(a.id));
  EXPECT_TRUE(store_->IdsWithPrefix(prefix.substr(0, 2)).empty()) << "too short";
  EXPECT_TRUE(store_->IdsWithPrefix("xyz").empty()) << "not hex";
  EXPECT_EQ(store_->Find("sha256:" + a.id.hex.substr(0, 20))->id, a.id);
}

TEST_F(ImageStoreTest, ATagMovesToTheNewestImage) {
  ImageRecord old_image = MakeImage("old", {"docker.io/library/app:latest"});
  ImageRecord new_image = MakeImage("new", {"docker.io/library/app:latest"});
  ASSERT_TRUE(store_->Put(old_image).ok());
  ASSERT_TRUE(store_->Put(new_image).ok());
  EXPECT_EQ(store_->Find("docker.io/library/app:latest")->id, new_image.id);
  EXPECT_TRUE(store_->Find(old_image.id.String())->repo_tags.empty());
}

TEST_F(ImageStoreTest, RemoveUntagsThenDeletesAndRefusesWhileInUse) {
  ImageRecord image =
      MakeImage("busybox", {"docker.io/library/busybox:latest", "docker.io/library/busybox:1"});
  ASSERT_TRUE(store_->Put(image).ok());

  auto removed = store_->Remove("docker.io/library/busybox:1");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->has_value()) << "only the tag goes";
  EXPECT_THAT(store_->Find(image.id.String())->repo_tags,
              ElementsAre("docker.io/library/busybox:latest"));

  store_->Acquire(image.id);
  absl::StatusOr<std::optional<ImageRecord>> refused = store_->Remove(image.id.String());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("in use by 1 container"));
  store_->Release(image.id);

  removed = store_->Remove("docker.io/library/busybox:latest");
  ASSERT_TRUE(removed.ok());
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->id, image.id);
  EXPECT_FALSE(store_->Find(image.id.String()).has_value());
  EXPECT_TRUE(store_->LayersInUse().empty());
  EXPECT_TRUE(store_->Remove(image.id.String()).ok()) << "idempotent";
  EXPECT_TRUE((*ImageStore::Open(root_))->List().empty());
}

}  // namespace
}  // namespace ocid
