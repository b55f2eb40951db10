#include "pkg/storage/image_gc.h"

#include "pkg/base/status_macros.h"

namespace ocid {

absl::Status CollectGarbage(const ImageStore& images, LayerStore& layers, BlobStore& blobs) {
  absl::Status status = layers.Collect([&] { return images.References().layers; });
  status.Update(blobs.Collect([&] { return images.References().blobs; }));
  return status;
}

absl::StatusOr<std::optional<ImageRecord>> RemoveImage(ImageStore& images, LayerStore& layers,
                                                       BlobStore& blobs,
                                                       const std::string& name_or_id) {
  ASSIGN_OR_RETURN(std::optional<ImageRecord> removed, images.Remove(name_or_id));
  if (!removed.has_value()) return removed;
  RETURN_IF_ERROR(CollectGarbage(images, layers, blobs));
  return removed;
}

}  // namespace ocid
