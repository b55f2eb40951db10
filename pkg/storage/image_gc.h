// Removing images and collecting what no image uses any more: the policy
// behind RemoveImage, below the gRPC edge.
//
// What is deleted is what no image record refers to and no lease holds. A
// pull leases its manifest, config and layers before it looks for them and
// holds the leases until its image record is published; a container leases
// its image. So a collection racing a pull never deletes what the pull will
// publish, and one racing CreateContainer never deletes what it mounts. A
// pull runs a collection once its leases are gone, for what a collection
// skipped while the pull held it (an image removed just after the pull
// published it) and for what a failed pull left.
#ifndef OCID_PKG_STORAGE_IMAGE_GC_H_
#define OCID_PKG_STORAGE_IMAGE_GC_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "pkg/storage/blob_store.h"
#include "pkg/storage/image_store.h"
#include "pkg/storage/layer_store.h"

namespace ocid {

// Deletes the layers and blobs that no image refers to and no lease holds.
absl::Status CollectGarbage(const ImageStore& images, LayerStore& layers, BlobStore& blobs);

// Removes what `name_or_id` (a stored repo tag or digest, or an image ID:
// ImageStore::Find) names: given one tag of an image with others, only that
// tag; else the image, then its layers and blobs unless another image or a
// lease still holds them. Idempotent; FailedPrecondition while a container
// holds the image. Returns the image removed (nullopt: only a tag went, or
// nothing matched).
absl::StatusOr<std::optional<ImageRecord>> RemoveImage(ImageStore& images, LayerStore& layers,
                                                       BlobStore& blobs,
                                                       const std::string& name_or_id);

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_IMAGE_GC_H_
