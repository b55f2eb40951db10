// PullImage, ListImages, ImageStatus, RemoveImage, ImageFsInfo.
#include "pkg/server/image_service.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"
#include "pkg/image/reference.h"
#include "pkg/server/rpc.h"
#include "pkg/stats/fs_usage.h"
#include "pkg/server/stream_batches.h"
#include "pkg/storage/image_gc.h"

namespace ocid {
namespace {

namespace cri = ::runtime::v1;

constexpr size_t kMaxConfigBytes = 8 << 20;

// The CRI form of `image`, `pinned` as pinned_images says.
void ToCri(const ImageRecord& image, const PinnedImages& pinned, cri::Image& out) {
  out.set_id(image.id.String());
  out.set_pinned(pinned.Pins(image));
  for (const auto& tag : image.repo_tags) out.add_repo_tags(tag);
  for (const auto& digest : image.repo_digests) out.add_repo_digests(digest);
  out.set_size(static_cast<uint64_t>(image.size));
  out.mutable_spec()->set_image(image.id.String());
  // The config's User: "uid[:gid]" gives a uid, a name gives a username.
  std::string user = image.user.substr(0, image.user.find(':'));
  int64_t uid = 0;
  if (user.empty()) {
    out.mutable_uid()->set_value(0);
  } else if (absl::SimpleAtoi(user, &uid)) {
    out.mutable_uid()->set_value(uid);
  } else {
    out.set_username(user);
  }
}

}  // namespace

// A short name is found where a pull of it may have put it: see LookupNames.
absl::StatusOr<std::optional<ImageMatch>> ImageService::Lookup(const std::string& name,
                                                               absl::string_view field) const {
  absl::StatusOr<std::optional<ImageMatch>> match =
      LookupImage(stores_.images, stores_.puller.short_names(), name);
  if (!match.ok()) {
    return absl::Status(match.status().code(), absl::StrCat(field, ": ", match.status().message()));
  }
  return match;
}

grpc::Status ImageService::ListImages(grpc::ServerContext*, const cri::ListImagesRequest* request,
                                      cri::ListImagesResponse* response) {
  return ServeRpc("ListImages", [&]() -> absl::Status {
    const std::string& wanted = request->filter().image().image();
    if (!wanted.empty()) {
      ASSIGN_OR_RETURN(std::optional<ImageMatch> match, Lookup(wanted, "filter.image.image"));
      if (match.has_value()) ToCri(match->image, *Pinned(), *response->add_images());
      return absl::OkStatus();
    }
    std::shared_ptr<const PinnedImages> pinned = Pinned();
    for (const ImageRecord& image : stores_.images.List()) {
      ToCri(image, *pinned, *response->add_images());
    }
    return absl::OkStatus();
  });
}

grpc::Status ImageService::StreamImages(grpc::ServerContext*,
                                        const cri::StreamImagesRequest* request,
                                        grpc::ServerWriter<cri::StreamImagesResponse>* writer) {
  return ServeRpc("StreamImages", [&]() -> absl::Status {
    std::vector<std::string> ids;
    const std::string& wanted = request->filter().image().image();
    if (!wanted.empty()) {
      ASSIGN_OR_RETURN(std::optional<ImageMatch> match, Lookup(wanted, "filter.image.image"));
      if (match.has_value()) ids.push_back(match->image.id.String());
    } else {
      for (const ImageRecord& image : stores_.images.List()) ids.push_back(image.id.String());
    }
    std::shared_ptr<const PinnedImages> pinned = Pinned();
    return WriteInBatches(writer, ids, [&](const std::string& id, auto& response) {
      std::optional<ImageRecord> image = stores_.images.Find(id);  // removed meanwhile: left out
      if (image.has_value()) ToCri(*image, *pinned, *response.add_images());
    });
  });
}

grpc::Status ImageService::ImageStatus(grpc::ServerContext*, const cri::ImageStatusRequest* request,
                                       cri::ImageStatusResponse* response) {
  return ServeRpc("ImageStatus", [&]() -> absl::Status {
    const std::string& name = request->image().image();
    if (name.empty()) return absl::InvalidArgumentError("image.image is empty");
    if (request->verbose()) {
      if (std::optional<PullProgress> pull = stores_.puller.Progress(name)) {
        // Not CRI: ocic shows this as its progress bar while it pulls.
        (*response->mutable_info())["pullProgress"] = nlohmann::json{
            {"layersTotal", pull->layers_total},
            {"layersDone", pull->layers_done},
            {"bytesTotal", pull->bytes_total},
            {"bytesDone", pull->bytes_done}}.dump();
      }
    }
    ASSIGN_OR_RETURN(std::optional<ImageMatch> match, Lookup(name, "image.image"));
    if (!match.has_value()) return absl::OkStatus();  // CRI: no image, no error
    const ImageRecord* image = &match->image;
    ToCri(*image, *Pinned(), *response->mutable_image());
    if (request->verbose()) {
      absl::StatusOr<std::string> config = stores_.blobs.ReadBlob(image->id, kMaxConfigBytes);
      nlohmann::json info = {{"id", image->id.String()},
                             {"manifest_digest", image->manifest_digest.String()},
                             {"layers", image->layers.size()}};
      if (config.ok()) {
        info["imageSpec"] = nlohmann::json::parse(*config, nullptr, /*allow_exceptions=*/false);
      }
      (*response->mutable_info())["info"] = info.dump();
    }
    return absl::OkStatus();
  });
}

grpc::Status ImageService::PullImage(grpc::ServerContext*, const cri::PullImageRequest* request,
                                     cri::PullImageResponse* response) {
  return ServeRpc("PullImage", [&]() -> absl::Status {
    const std::string& name = request->image().image();
    if (name.empty()) return absl::InvalidArgumentError("image.image is empty");
    if (absl::Status parsed = ParseImageReference(name).status(); !parsed.ok()) {
      return absl::Status(parsed.code(), absl::StrCat("image.image: ", parsed.message()));
    }
    PullAuth auth;
    const cri::AuthConfig& given = request->auth();
    auth.username = given.username();
    auth.password = given.password();
    auth.identity_token = given.identity_token();
    auth.registry_token = given.registry_token();
    if (!given.auth().empty()) {
      // "auth" is base64("user:password").
      std::string decoded;
      if (!absl::Base64Unescape(given.auth(), &decoded) || decoded.find(':') == std::string::npos) {
        return absl::InvalidArgumentError("auth.auth is not base64 of user:password");
      }
      auth.username = decoded.substr(0, decoded.find(':'));
      auth.password = decoded.substr(decoded.find(':') + 1);
    }
    // The pod's namespace picks its trust policy (signature_policy_dir).
    ASSIGN_OR_RETURN(ImageRecord image,
                     stores_.puller.Pull(name, auth, request->sandbox_config().metadata().namespace_()));
    response->set_image_ref(image.id.String());
    return absl::OkStatus();
  });
}

grpc::Status ImageService::RemoveImage(grpc::ServerContext*, const cri::RemoveImageRequest* request,
                                       cri::RemoveImageResponse*) {
  return ServeRpc("RemoveImage", [&]() -> absl::Status {
    const std::string& name = request->image().image();
    if (name.empty()) return absl::InvalidArgumentError("image.image is empty");
    ASSIGN_OR_RETURN(std::optional<ImageMatch> match, Lookup(name, "image.image"));
    if (!match.has_value()) return absl::OkStatus();  // idempotent
    if (Pinned()->Pins(match->image)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "image ", name, " is pinned (ocid.image.pinned_images): it is not removed"));
    }
    // The stored tag the name matched (pkg/storage untags it when the image
    // has others), else the image.
    std::string key = match->by_tag ? match->name : match->image.id.String();
    return ocid::RemoveImage(stores_.images, stores_.layers, stores_.blobs, key).status();
  });
}

grpc::Status ImageService::ImageFsInfo(grpc::ServerContext*, const cri::ImageFsInfoRequest*,
                                       cri::ImageFsInfoResponse* response) {
  return ServeRpc("ImageFsInfo", [&] {
    // Image storage and the containers' writable layers apart, as kubelet
    // reads them (a split image filesystem).
    const std::pair<std::string, cri::FilesystemUsage*> filesystems[] = {
        {stores_.root, response->add_image_filesystems()},
        {stores_.containers_root, response->add_container_filesystems()},
    };
    for (const auto& [root, fs] : filesystems) {
      FsUsage usage = MeasureTree(root);
      fs->set_timestamp(absl::ToUnixNanos(absl::Now()));
      fs->mutable_fs_id()->set_mountpoint(root);
      fs->mutable_used_bytes()->set_value(usage.bytes);
      fs->mutable_inodes_used()->set_value(usage.inodes);
    }
    return absl::OkStatus();
  });
}

}  // namespace ocid
