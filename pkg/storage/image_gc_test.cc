#include "pkg/storage/image_gc.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pkg/base/fs.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// An uncompressed tar holding one file.
std::string MakeTar(const std::string& path, const std::string& contents) {
  std::string out;
  struct archive* writer = archive_write_new();
  archive_write_set_format_pax_restricted(writer);
  archive_write_open(
      writer, &out, nullptr,
      [](struct archive*, void* data, const void* buffer, size_t length) -> la_ssize_t {
        static_cast<std::string*>(data)->append(static_cast<const char*>(buffer), length);
        return static_cast<la_ssize_t>(length);
      },
      nullptr);
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, path.c_str());
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_size(entry, static_cast<la_int64_t>(contents.size()));
  archive_write_header(writer, entry);
  archive_write_data(writer, contents.data(), contents.size());
  archive_entry_free(entry);
  archive_write_close(writer);
  archive_write_free(writer);
  return out;
}

class ImageGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ocid-image-gc-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    blobs_ = std::move(*BlobStore::Open(dir_ + "/content"));
    layers_ = std::move(*LayerStore::Open(dir_ + "/layers"));
    images_ = std::move(*ImageStore::Open(dir_ + "/images"));
  }
  void TearDown() override { RemoveAll(dir_).IgnoreError(); }

  // A base layer with one file; returns its chain ID.
  Digest AddLayer(const std::string& seed) {
    std::string tar = MakeTar("file-" + seed, seed);
    Digest diff_id = Sha256Of(tar);
    UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
    EXPECT_EQ(write(fd.get(), tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
    lseek(fd.get(), 0, SEEK_SET);
    absl::StatusOr<LayerRecord> layer = layers_->Create(diff_id, "", diff_id, fd.get());
    EXPECT_TRUE(layer.ok()) << layer.status();
    return diff_id;
  }
  Digest AddBlob(const std::string& data) {
    Digest digest = Sha256Of(data);
    EXPECT_TRUE(blobs_->WriteBlob(digest, data).ok());
    return digest;
  }
  // An image of one layer, its config and manifest in the blob store.
  ImageRecord AddImage(const std::string& seed, std::vector<std::string> tags) {
    ImageRecord image;
    image.id = AddBlob("config-" + seed);
    image.manifest_digest = AddBlob("manifest-" + seed);
    image.layers = {AddLayer(seed)};
    image.repo_tags = std::move(tags);
    EXPECT_TRUE(images_->Put(image).ok());
    return image;
  }
  bool HasLayer(const Digest& chain_id) {
    return layers_->Get(chain_id).has_value() &&
           ::access(layers_->DiffDir(chain_id).c_str(), F_OK) == 0;
  }
  int LayerDirs() {
    absl::StatusOr<std::vector<std::string>> names = ListDir(dir_ + "/layers");
    EXPECT_TRUE(names.ok()) << names.status();
    int count = 0;
    for (const std::string& name : names.value_or(std::vector<std::string>{})) {
      count += name[0] != '.';
    }
    return count;
  }

  std::string dir_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<LayerStore> layers_;
  std::unique_ptr<ImageStore> images_;
};

TEST_F(ImageGcTest, CollectsWhatNoImageUsesAndNoLeaseHolds) {
  ImageRecord image = AddImage("kept", {"docker.io/library/kept:latest"});
  Digest leased_layer = AddLayer("leased");
  Digest loose_layer = AddLayer("loose");
  Digest leased_blob = AddBlob("leased");
  Digest loose_blob = AddBlob("loose");
  Lease layer_lease = layers_->LeaseLayer(leased_layer);
  Lease blob_lease = blobs_->LeaseBlob(leased_blob);

  ASSERT_TRUE(CollectGarbage(*images_, *layers_, *blobs_).ok());
  EXPECT_TRUE(HasLayer(image.layers[0]));
  EXPECT_TRUE(blobs_->Has(image.id));
  EXPECT_TRUE(blobs_->Has(image.manifest_digest));
  EXPECT_TRUE(HasLayer(leased_layer)) << "a leased layer was collected";
  EXPECT_TRUE(blobs_->Has(leased_blob)) << "a leased blob was collected";
  EXPECT_FALSE(HasLayer(loose_layer));
  EXPECT_FALSE(blobs_->Has(loose_blob));
  EXPECT_EQ(LayerDirs(), 2);

  layer_lease.Reset();
  blob_lease.Reset();
  ASSERT_TRUE(CollectGarbage(*images_, *layers_, *blobs_).ok());
  EXPECT_FALSE(HasLayer(leased_layer));
  EXPECT_FALSE(blobs_->Has(leased_blob));
  EXPECT_TRUE(HasLayer(image.layers[0]));
}

TEST_F(ImageGcTest, RemoveImageRefusesALeasedImageThenTakesItsLayersAndBlobs) {
  ImageRecord image = AddImage("app", {"docker.io/library/app:1", "docker.io/library/app:2"});
  std::optional<LeasedImage> container = images_->FindAndLease(image.id.String());
  ASSERT_TRUE(container.has_value());

  // One tag of two: only the tag goes, even while in use.
  auto untagged = RemoveImage(*images_, *layers_, *blobs_, "docker.io/library/app:1");
  ASSERT_TRUE(untagged.ok()) << untagged.status();
  EXPECT_FALSE(untagged->has_value());
  EXPECT_EQ(images_->Find(image.id.String())->repo_tags,
            std::vector<std::string>{"docker.io/library/app:2"});

  auto refused = RemoveImage(*images_, *layers_, *blobs_, "docker.io/library/app:2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(images_->Find(image.id.String()).has_value());
  EXPECT_TRUE(HasLayer(image.layers[0]));
  EXPECT_TRUE(blobs_->Has(image.id));

  container->lease.Reset();
  auto removed = RemoveImage(*images_, *layers_, *blobs_, "docker.io/library/app:2");
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_TRUE(removed->has_value());
  EXPECT_FALSE(images_->Find(image.id.String()).has_value());
  EXPECT_FALSE(HasLayer(image.layers[0]));
  EXPECT_FALSE(blobs_->Has(image.id));
  EXPECT_FALSE(blobs_->Has(image.manifest_digest));
  EXPECT_EQ(LayerDirs(), 0);
  EXPECT_TRUE(RemoveImage(*images_, *layers_, *blobs_, image.id.String()).ok()) << "idempotent";
}

TEST_F(ImageGcTest, ALayerSharedWithAnotherImageStays) {
  ImageRecord a = AddImage("a", {"docker.io/library/a:latest"});
  ImageRecord b = a;
  b.id = AddBlob("config-b");
  b.repo_tags = {"docker.io/library/b:latest"};
  ASSERT_TRUE(images_->Put(b).ok());
  ASSERT_TRUE(RemoveImage(*images_, *layers_, *blobs_, a.id.String()).ok());
  EXPECT_TRUE(HasLayer(a.layers[0]));
  EXPECT_FALSE(blobs_->Has(a.id));
  EXPECT_TRUE(blobs_->Has(b.id));
}

// What a pull does (pkg/image/puller.cc), in the same order: lease, look,
// fetch what is missing, publish, drop the leases, collect. Raced against
// RemoveImage of the same image: after each round the image is either
// there with its layers and blobs, or gone with nothing left behind.
TEST_F(ImageGcTest, RemoveRacingAPullNeverTakesWhatThePullPublishes) {
  const std::string config_text = "config-raced", manifest_text = "manifest-raced";
  const std::string tar = MakeTar("file-raced", "raced");
  const Digest config = Sha256Of(config_text), manifest = Sha256Of(manifest_text);
  const Digest layer = Sha256Of(tar);
  auto pull = [&]() -> absl::Status {
    {
      std::vector<Lease> leases;
      leases.push_back(blobs_->LeaseBlob(manifest));
      if (!blobs_->Has(manifest)) {
        absl::Status written = blobs_->WriteBlob(manifest, manifest_text);
        if (!written.ok()) return written;
      }
      leases.push_back(blobs_->LeaseBlob(config));
      if (!blobs_->Has(config)) {
        absl::Status written = blobs_->WriteBlob(config, config_text);
        if (!written.ok()) return written;
      }
      leases.push_back(layers_->LeaseLayer(layer));
      if (!layers_->Get(layer).has_value()) {
        UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
        if (write(fd.get(), tar.data(), tar.size()) != static_cast<ssize_t>(tar.size())) {
          return absl::InternalError("write memfd");
        }
        lseek(fd.get(), 0, SEEK_SET);
        absl::StatusOr<LayerRecord> created = layers_->Create(layer, "", layer, fd.get());
        if (!created.ok()) return created.status();
      }
      ImageRecord image;
      image.id = config;
      image.manifest_digest = manifest;
      image.layers = {layer};
      image.repo_tags = {"docker.io/library/raced:latest"};
      absl::Status put = images_->Put(image);
      if (!put.ok()) return put;
    }
    return CollectGarbage(*images_, *layers_, *blobs_);
  };
  for (int round = 0; round < 40; ++round) {
    ASSERT_TRUE(pull().ok());
    absl::Status pulled, removed;
    std::thread puller([&] { pulled = pull(); });
    std::thread remover([&] {
      if (round % 2) absl::SleepFor(absl::Microseconds(100 * (round % 7)));
      removed = RemoveImage(*images_, *layers_, *blobs_, "docker.io/library/raced:latest").status();
    });
    puller.join();
    remover.join();
    ASSERT_TRUE(pulled.ok()) << "round " << round << ": " << pulled;
    ASSERT_TRUE(removed.ok()) << "round " << round << ": " << removed;
    if (images_->Find(config.String()).has_value()) {
      EXPECT_TRUE(HasLayer(layer)) << "round " << round << ": the image lost its layer";
      EXPECT_TRUE(blobs_->Has(config)) << "round " << round << ": the image lost its config";
      EXPECT_TRUE(blobs_->Has(manifest)) << "round " << round;
    } else {
      EXPECT_EQ(LayerDirs(), 0) << "round " << round << ": an orphan layer";
      EXPECT_FALSE(blobs_->Has(config)) << "round " << round << ": an orphan blob";
    }
  }
}

}  // namespace
}  // namespace ocid
