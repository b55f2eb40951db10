#include "pkg/storage/blob_store.h"

#include <dirent.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::string(getenv("TEST_TMPDIR")) + "/blobs-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto store = BlobStore::Open(root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  int IngestEntries() {
    int count = 0;
    DIR* dir = opendir((root_ + "/ingest").c_str());
    while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
    closedir(dir);
    return count;
  }

  std::string root_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, VerifiedBlobBecomesVisibleOnlyOnCommit) {
  Digest digest = Sha256Of("hello world");
  auto writer = store_->NewWriter(digest, 11);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write("hello ").ok());
  EXPECT_FALSE(store_->Has(digest)) << "a partial blob must not be visible";
  ASSERT_TRUE((*writer)->Write("world").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_TRUE(store_->Has(digest));
  EXPECT_EQ(*store_->ReadBlob(digest, 100), "hello world");
  EXPECT_EQ(IngestEntries(), 0);
}

TEST_F(BlobStoreTest, MismatchedTruncatedOrOversizedBlobsAreRefused) {
  Digest digest = Sha256Of("expected");
  absl::Status status = store_->WriteBlob(digest, "tampered");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("digest mismatch"));
  EXPECT_FALSE(store_->Has(digest));

  auto writer = store_->NewWriter(digest, 8);
  ASSERT_TRUE((*writer)->Write("expe").ok());
  EXPECT_THAT((*writer)->Commit().message(), HasSubstr("truncated: got 4 of 8 bytes"));
  EXPECT_EQ((*writer)->Write("cted-and-more").code(), absl::StatusCode::kOutOfRange);
  writer->reset();
  EXPECT_EQ(IngestEntries(), 0) << "an abandoned writer removes its partial file";
}

TEST_F(BlobStoreTest, RestartDropsDataAndReopenCleansPartials) {
  Digest digest = Sha256Of("abc");
  auto writer = store_->NewWriter(digest, -1);
  ASSERT_TRUE((*writer)->Write("xyz-garbage").ok());
  ASSERT_TRUE((*writer)->Restart().ok());
  ASSERT_TRUE((*writer)->Write("abc").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(*store_->ReadBlob(digest, 10), "abc");

  // As if ocid died mid-download.
  ASSERT_TRUE(WriteFileAtomically(root_ + "/ingest/deadbeef.partial", "half").ok());
  auto reopened = BlobStore::Open(root_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(IngestEntries(), 0);
  EXPECT_TRUE((*reopened)->Has(digest));
  ASSERT_TRUE((*reopened)->Delete(digest).ok());
  EXPECT_FALSE((*reopened)->Has(digest));
  EXPECT_TRUE((*reopened)->Delete(digest).ok()) << "delete is idempotent";
}

}  // namespace
}  // namespace ocid
