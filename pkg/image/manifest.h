// Image manifests, indexes and configs (Docker v2 schema 2 and OCI image-spec
// v1): media types, parsing of untrusted registry JSON, platform selection.
#ifndef OCID_PKG_IMAGE_MANIFEST_H_
#define OCID_PKG_IMAGE_MANIFEST_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/storage/digest.h"

namespace ocid {

// Manifests and indexes.
inline constexpr char kMediaTypeDockerManifest[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kMediaTypeDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kMediaTypeOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeOciIndex[] = "application/vnd.oci.image.index.v1+json";
// Docker schema 1: recognized only to refuse them clearly.
inline constexpr char kMediaTypeDockerSchema1Manifest[] =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr char kMediaTypeDockerSchema1SignedManifest[] =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// Image configs.
inline constexpr char kMediaTypeOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kMediaTypeDockerConfig[] = "application/vnd.docker.container.image.v1+json";

// Layers.
inline constexpr char kMediaTypeOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kMediaTypeOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kMediaTypeOciNondistributableLayer[] =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr char kMediaTypeOciNondistributableLayerGzip[] =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr char kMediaTypeOciNondistributableLayerZstd[] =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr char kMediaTypeDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kMediaTypeDockerForeignLayer[] =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// Registries send manifests no bigger than this; ParseManifest and
// RegistryClient refuse bigger ones (as containers/image does).
inline constexpr int64_t kMaxManifestBytes = 4 << 20;
// The same bound for image configs.
inline constexpr int64_t kMaxImageConfigBytes = 4 << 20;

enum class LayerCompression { kNone, kGzip, kZstd };

// The compression of a layer of media type `media_type`; InvalidArgument for
// a type that is not a layer type above.
absl::StatusOr<LayerCompression> LayerCompressionOf(absl::string_view media_type);

// True for the four manifest and index media types (not schema 1).
bool IsManifestMediaType(absl::string_view media_type);
bool IsIndexMediaType(absl::string_view media_type);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  Platform platform;  // only for the entries of an index
};

struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;  // base layer first
};

struct ImageIndex {
  std::string media_type;
  // Entries of unknown media types are kept; SelectPlatform skips them.
  std::vector<Descriptor> manifests;
};

// Exactly one of the two is set.
struct ParsedManifest {
  std::optional<ImageManifest> manifest;
  std::optional<ImageIndex> index;
};

// Parses a manifest or index fetched from a registry. `media_type` is the
// response's Content-Type (parameters are ignored); when it is empty or
// generic (application/json, application/octet-stream, text/plain) the
// body's "mediaType", and failing that its shape, decides. Errors:
// FailedPrecondition for Docker schema 1; InvalidArgument for bodies over
// kMaxManifestBytes, bad JSON, unknown manifest, config or layer media types,
// a "mediaType" contradicting `media_type`, and bad fields (named like
// "layers[2].digest").
absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view media_type, absl::string_view body);

// The first entry of `index` that is a manifest (or nested index) for
// os/architecture, and for `variant` when one is given (for arm64, "" and
// "v8" are the same variant). NotFound lists the platforms the index has.
absl::StatusOr<Descriptor> SelectPlatform(const ImageIndex& index, absl::string_view os = "linux",
                                          absl::string_view architecture = "amd64",
                                          absl::string_view variant = "");

// The parts of an image config (OCI image-spec config.json) a runtime uses.
struct ImageConfig {
  std::string architecture;
  std::string os;
  std::vector<Digest> diff_ids;  // of the uncompressed layers, base first
  std::string user;
  std::vector<std::string> env;  // "NAME=value"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // sorted
  int64_t created_unix_nanos = 0;          // 0 when absent or before 1970
};

// Parses an image config. InvalidArgument for bodies over
// kMaxImageConfigBytes, bad JSON, a rootfs.type other than "layers", missing
// or bad rootfs.diff_ids and wrongly typed fields (named like "config.Env[1]").
absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view body);

}  // namespace ocid

#endif  // OCID_PKG_IMAGE_MANIFEST_H_
