#include "pkg/storage/image_store.h"

#include <algorithm>
#include <map>
#include <thread>

#include "gmock/gmock.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

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

  std::optional<LeasedImage> leased = store_->FindAndLease("docker.io/library/busybox:latest");
  ASSERT_TRUE(leased.has_value());
  EXPECT_EQ(leased->image.id, image.id);
  absl::StatusOr<std::optional<ImageRecord>> refused = store_->Remove(image.id.String());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("in use by 1 container"));
  leased->lease.Reset();

  removed = store_->Remove("docker.io/library/busybox:latest");
  ASSERT_TRUE(removed.ok());
  ASSERT_TRUE(removed->has_value());
  EXPECT_EQ((*removed)->id, image.id);
  EXPECT_FALSE(store_->Find(image.id.String()).has_value());
  EXPECT_TRUE(store_->References().layers.empty());
  EXPECT_TRUE(store_->References().blobs.empty());
  EXPECT_FALSE(store_->FindAndLease(image.id.String()).has_value()) << "nothing to lease";
  EXPECT_TRUE(store_->Remove(image.id.String()).ok()) << "idempotent";
  EXPECT_TRUE((*ImageStore::Open(root_))->List().empty());
}

// FindAndLease finds and leases under the lock Remove checks leases under:
// either the lease comes first and the removal is refused, or the removal
// does and there is nothing to lease.
TEST_F(ImageStoreTest, FindAndLeaseRacingRemoveEitherHoldsTheImageOrFindsNothing) {
  ImageRecord image = MakeImage("raced", {"docker.io/library/raced:latest"});
  for (int round = 0; round < 100; ++round) {
    ASSERT_TRUE(store_->Put(image).ok());
    std::optional<LeasedImage> leased;
    absl::StatusOr<std::optional<ImageRecord>> removed;
    std::thread lease([&] { leased = store_->FindAndLease("docker.io/library/raced:latest"); });
    std::thread remove([&] { removed = store_->Remove("docker.io/library/raced:latest"); });
    lease.join();
    remove.join();
    if (leased.has_value()) {
      EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition) << round;
      EXPECT_TRUE(store_->Find(image.id.String()).has_value()) << round;
    } else {
      ASSERT_TRUE(removed.ok()) << round << ": " << removed.status();
      EXPECT_TRUE(removed->has_value()) << round;
      EXPECT_FALSE(store_->Find(image.id.String()).has_value()) << round;
    }
  }
}

// An image record as written before records had a version (commit fa19ce9).
// Writers are serialised among themselves (they persist outside the read
// lock): racing Puts that move one tag between images, and fresh tags on
// each, lose nothing, and the files on disk say the same as memory.
TEST_F(ImageStoreTest, RacingPutsLoseNoTagAndMatchTheFiles) {
  constexpr int kThreads = 4, kRounds = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string seed = absl::StrCat("img", t);
      for (int r = 0; r < kRounds; ++r) {
        ASSERT_TRUE(store_->Put(MakeImage(seed, {"docker.io/library/shared:latest",
                                                 absl::StrCat("docker.io/library/", seed, ":", r)}))
                        .ok());
        EXPECT_TRUE(store_->Find("docker.io/library/shared:latest").has_value());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  auto reopened = ImageStore::Open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  for (const ImageStore* store : {store_.get(), reopened->get()}) {
    int shared = 0;
    size_t tags = 0;
    for (const ImageRecord& image : store->List()) {
      shared += std::count(image.repo_tags.begin(), image.repo_tags.end(),
                           "docker.io/library/shared:latest");
      tags += image.repo_tags.size();
    }
    EXPECT_EQ(shared, 1) << "the shared tag names exactly one image";
    EXPECT_EQ(tags, 1u + kThreads * kRounds) << "every per-round tag is kept";
  }
}

TEST_F(ImageStoreTest, LoadsARecordInTheLayoutBeforeVersions) {
  absl::StatusOr<std::string> old =
      ReadFileToString("pkg/storage/testdata/image_record_v0.json", 1 << 20);
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_EQ(old->find("version"), std::string::npos);
  std::string hex = "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910";
  ASSERT_TRUE(WriteFileAtomically(root_ + "/" + hex + ".json", *old).ok());
  auto reopened = ImageStore::Open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::optional<ImageRecord> image = (*reopened)->Find("docker.io/library/busybox:latest");
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->id.hex, hex);
  EXPECT_EQ(image->manifest_digest.String(),
            "sha256:05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f");
  EXPECT_THAT(image->repo_digests,
              ElementsAre("docker.io/library/busybox@sha256:"
                          "05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f"));
  ASSERT_EQ(image->layers.size(), 2u);
  EXPECT_EQ(image->layers[1].String(),
            "sha256:922badbaf192e1a4a5af64df422de6d73e96e70d0ab52245bd3d692bcea9cfad");
  EXPECT_EQ(image->size, 1234);
  EXPECT_EQ(image->user, "nobody");
  EXPECT_EQ(image->pulled_at_nanos, 1700000000000000000);
}

TEST_F(ImageStoreTest, ARecordWithOnlyAnIdLoadsWithDefaults) {
  Digest id = Sha256Of("bare");
  ASSERT_TRUE(
      WriteFileAtomically(root_ + "/" + id.hex + ".json", R"({"id": ")" + id.String() + R"("})")
          .ok());
  auto reopened = ImageStore::Open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::optional<ImageRecord> image = (*reopened)->Find(id.String());
  ASSERT_TRUE(image.has_value());
  EXPECT_TRUE(image->repo_tags.empty());
  EXPECT_TRUE(image->layers.empty());
  EXPECT_EQ(image->size, 0);
  // Written back with its defaults, it still loads.
  ASSERT_TRUE((*reopened)->Put(*image).ok());
  auto again = ImageStore::Open(root_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)->Find(id.String()).has_value());
}

TEST_F(ImageStoreTest, AWrongTypedKeyIsDataLossNamingItAndNewRecordsCarryTheVersion) {
  ASSERT_TRUE(store_->Put(MakeImage("busybox", {"docker.io/library/busybox:latest"})).ok());
  Digest id = Sha256Of("config-busybox");
  absl::StatusOr<std::string> written = ReadFileToString(root_ + "/" + id.hex + ".json", 1 << 20);
  ASSERT_TRUE(written.ok());
  EXPECT_THAT(*written, HasSubstr(R"("version":1)"));

  Digest bad = Sha256Of("bad");
  ASSERT_TRUE(WriteFileAtomically(root_ + "/" + bad.hex + ".json",
                                  R"({"id": ")" + bad.String() + R"(", "size": "large"})")
                  .ok());
  auto reopened = ImageStore::Open(root_);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reopened.status().message(), HasSubstr("\"size\""));
  EXPECT_THAT(reopened.status().message(), HasSubstr(bad.hex + ".json"));
}

}  // namespace
}  // namespace ocid
