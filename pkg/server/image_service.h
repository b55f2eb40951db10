// CRI ImageService: pulls, lists, inspects and removes images, and reports
// the image file system's usage.
#ifndef OCID_PKG_SERVER_IMAGE_SERVICE_H_
#define OCID_PKG_SERVER_IMAGE_SERVICE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "pkg/image/image_lookup.h"
#include "pkg/image/pinned_images.h"
#include "pkg/image/helper_puller.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"

namespace ocid {

struct ImageStores {
  std::string root;  // everything below is under it (ImageFsInfo measures it)
  BlobStore& blobs;
  LayerStore& layers;
  ImageStore& images;
  HelperPuller& puller;
  // The containers' writable layers (upper/work dirs), which ImageFsInfo
  // reports as container_filesystems.
  std::string containers_root;
};

class ImageService final : public runtime::v1::ImageService::Service {
 public:
  explicit ImageService(ImageStores stores, PinnedImages pinned = PinnedImages())
      : stores_(stores), pinned_(std::make_shared<const PinnedImages>(std::move(pinned))) {}

  // Calls from now on use `pinned` (a SIGHUP's ocid.conf).
  void SetPinned(PinnedImages pinned) {
    auto fresh = std::make_shared<const PinnedImages>(std::move(pinned));
    absl::MutexLock lock(&pinned_mu_);
    pinned_ = std::move(fresh);
  }

  grpc::Status ListImages(grpc::ServerContext* context,
                          const runtime::v1::ListImagesRequest* request,
                          runtime::v1::ListImagesResponse* response) override;
  grpc::Status StreamImages(grpc::ServerContext* context,
                            const runtime::v1::StreamImagesRequest* request,
                            grpc::ServerWriter<runtime::v1::StreamImagesResponse>* writer) override;
  grpc::Status ImageStatus(grpc::ServerContext* context,
                           const runtime::v1::ImageStatusRequest* request,
                           runtime::v1::ImageStatusResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context,
                         const runtime::v1::PullImageRequest* request,
                         runtime::v1::PullImageResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context,
                           const runtime::v1::RemoveImageRequest* request,
                           runtime::v1::RemoveImageResponse* response) override;
  grpc::Status ImageFsInfo(grpc::ServerContext* context,
                           const runtime::v1::ImageFsInfoRequest* request,
                           runtime::v1::ImageFsInfoResponse* response) override;

 private:
  // `field` names the request's field in errors.
  absl::StatusOr<std::optional<ImageMatch>> Lookup(const std::string& name,
                                                   absl::string_view field) const;

  std::shared_ptr<const PinnedImages> Pinned() const {
    absl::MutexLock lock(&pinned_mu_);
    return pinned_;
  }
  ImageStores stores_;
  mutable absl::Mutex pinned_mu_;
  std::shared_ptr<const PinnedImages> pinned_ ABSL_GUARDED_BY(pinned_mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_SERVER_IMAGE_SERVICE_H_
