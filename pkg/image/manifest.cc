#include "pkg/image/manifest.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

using Json = nlohmann::json;

// Registry bodies are untrusted: every access below checks the JSON type
// first, so nlohmann never throws (it is parsed with allow_exceptions=false).

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Element(absl::string_view path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

absl::Status Invalid(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

// The member `key` of `object`, or nullptr when absent or null (Go encodes
// empty slices and maps as null).
const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<Json> ParseJsonObject(absl::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!json.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return json;
}

// Reads an optional string member into `out` (left alone when absent).
absl::Status ReadString(const Json& object, const char* key, absl::string_view path,
                        std::string& out) {
  const Json* value = Member(object, key);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_string()) return Invalid(Join(path, key), "not a string");
  out = value->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadRequiredString(const Json& object, const char* key, absl::string_view path,
                                std::string& out) {
  if (Member(object, key) == nullptr) return Invalid(Join(path, key), "missing");
  RETURN_IF_ERROR(ReadString(object, key, path, out));
  if (out.empty()) return Invalid(Join(path, key), "empty");
  return absl::OkStatus();
}

absl::Status ReadStringList(const Json& object, const char* key, absl::string_view path,
                            std::vector<std::string>& out) {
  const Json* value = Member(object, key);
  if (value == nullptr) return absl::OkStatus();
  std::string field = Join(path, key);
  if (!value->is_array()) return Invalid(field, "not a list");
  for (size_t i = 0; i < value->size(); ++i) {
    const Json& item = (*value)[i];
    if (!item.is_string()) return Invalid(Element(field, i), "not a string");
    out.push_back(item.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ReadStringMap(const Json& object, const char* key, absl::string_view path,
                           std::map<std::string, std::string>& out) {
  const Json* value = Member(object, key);
  if (value == nullptr) return absl::OkStatus();
  std::string field = Join(path, key);
  if (!value->is_object()) return Invalid(field, "not an object");
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (!it.value().is_string()) return Invalid(Join(field, it.key()), "not a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return absl::OkStatus();
}

// The keys of an object member ({"80/tcp": {}}), sorted.
absl::Status ReadKeys(const Json& object, const char* key, absl::string_view path,
                      std::vector<std::string>& out) {
  const Json* value = Member(object, key);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_object()) return Invalid(Join(path, key), "not an object");
  for (auto it = value->begin(); it != value->end(); ++it) out.push_back(it.key());
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadSize(const Json& object, absl::string_view path) {
  const Json* value = Member(object, "size");
  std::string field = Join(path, "size");
  if (value == nullptr) return Invalid(field, "missing");
  if (value->is_number_unsigned()) {
    uint64_t size = value->get<uint64_t>();
    if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Invalid(field, "too large");
    }
    return static_cast<int64_t>(size);
  }
  if (!value->is_number_integer()) return Invalid(field, "not an integer");
  int64_t size = value->get<int64_t>();
  if (size < 0) return Invalid(field, "negative");
  return size;
}

absl::StatusOr<Digest> ReadDigest(const Json& value, absl::string_view field) {
  if (!value.is_string()) return Invalid(field, "not a string");
  absl::StatusOr<Digest> digest = ParseDigest(value.get<std::string>());
  if (!digest.ok()) return Invalid(field, digest.status().message());
  return digest;
}

absl::Status ReadPlatform(const Json& object, absl::string_view path, Platform& out) {
  const Json* value = Member(object, "platform");
  if (value == nullptr) return absl::OkStatus();
  std::string field = Join(path, "platform");
  if (!value->is_object()) return Invalid(field, "not an object");
  RETURN_IF_ERROR(ReadRequiredString(*value, "os", field, out.os));
  RETURN_IF_ERROR(ReadRequiredString(*value, "architecture", field, out.architecture));
  return ReadString(*value, "variant", field, out.variant);
}

absl::StatusOr<Descriptor> ParseDescriptor(const Json& json, absl::string_view path) {
  if (!json.is_object()) return Invalid(path, "not an object");
  Descriptor descriptor;
  RETURN_IF_ERROR(ReadRequiredString(json, "mediaType", path, descriptor.media_type));
  const Json* digest = Member(json, "digest");
  if (digest == nullptr) return Invalid(Join(path, "digest"), "missing");
  ASSIGN_OR_RETURN(descriptor.digest, ReadDigest(*digest, Join(path, "digest")));
  ASSIGN_OR_RETURN(descriptor.size, ReadSize(json, path));
  RETURN_IF_ERROR(ReadStringMap(json, "annotations", path, descriptor.annotations));
  RETURN_IF_ERROR(ReadPlatform(json, path, descriptor.platform));
  return descriptor;
}

// Media types compare without parameters and case.
std::string NormalizeMediaType(absl::string_view media_type) {
  media_type = media_type.substr(0, media_type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(media_type));
}

bool IsGenericMediaType(absl::string_view media_type) {
  return media_type.empty() || media_type == "application/json" ||
         media_type == "application/octet-stream" || media_type == "text/plain";
}

bool IsSchema1MediaType(absl::string_view media_type) {
  return media_type == kMediaTypeDockerSchema1Manifest ||
         media_type == kMediaTypeDockerSchema1SignedManifest;
}

absl::Status Schema1Error() {
  return absl::FailedPreconditionError(
      "Docker schema 1 manifests are not supported (deprecated; push the image again with a "
      "current client)");
}

absl::StatusOr<ImageManifest> ParseImageManifest(const Json& json, std::string media_type) {
  ImageManifest manifest;
  manifest.media_type = std::move(media_type);
  const Json* config = Member(json, "config");
  if (config == nullptr) return Invalid("config", "missing");
  ASSIGN_OR_RETURN(manifest.config, ParseDescriptor(*config, "config"));
  manifest.config.platform = Platform();
  const std::string& config_type = manifest.config.media_type;
  if (config_type != kMediaTypeOciConfig && config_type != kMediaTypeDockerConfig) {
    return Invalid("config.mediaType",
                   absl::StrCat("unsupported image config media type \"", config_type, "\""));
  }
  const Json* layers = Member(json, "layers");
  if (layers == nullptr) return Invalid("layers", "missing");
  if (!layers->is_array()) return Invalid("layers", "not a list");
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string path = Element("layers", i);
    ASSIGN_OR_RETURN(Descriptor layer, ParseDescriptor((*layers)[i], path));
    if (!LayerCompressionOf(layer.media_type).ok()) {
      return Invalid(Join(path, "mediaType"),
                     absl::StrCat("unsupported layer media type \"", layer.media_type, "\""));
    }
    layer.platform = Platform();
    manifest.layers.push_back(std::move(layer));
  }
  return manifest;
}

absl::StatusOr<ImageIndex> ParseImageIndex(const Json& json, std::string media_type) {
  ImageIndex index;
  index.media_type = std::move(media_type);
  const Json* manifests = Member(json, "manifests");
  if (manifests == nullptr) return Invalid("manifests", "missing");
  if (!manifests->is_array()) return Invalid("manifests", "not a list");
  for (size_t i = 0; i < manifests->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor entry, ParseDescriptor((*manifests)[i], Element("manifests", i)));
    index.manifests.push_back(std::move(entry));
  }
  return index;
}

// The media type of a manifest from its Content-Type and its body's
// "mediaType", "schemaVersion" and shape.
absl::StatusOr<std::string> ResolveMediaType(absl::string_view content_type, const Json& json) {
  std::string declared;
  RETURN_IF_ERROR(ReadString(json, "mediaType", "", declared));
  declared = NormalizeMediaType(declared);
  const Json* version = Member(json, "schemaVersion");
  if (version != nullptr && !version->is_number_integer()) {
    return Invalid("schemaVersion", "not an integer");
  }
  if (version != nullptr && *version == 1) return Schema1Error();
  if (IsSchema1MediaType(declared)) return Schema1Error();
  std::string media_type(content_type);
  if (IsGenericMediaType(media_type)) {
    media_type = declared;
  } else if (!declared.empty() && declared != media_type) {
    return Invalid("mediaType", absl::StrCat("\"", declared, "\" contradicts the Content-Type \"",
                                             media_type, "\""));
  }
  if (media_type.empty()) {
    // OCI allows leaving out mediaType; the members tell an index apart.
    if (Member(json, "manifests") != nullptr) return std::string(kMediaTypeOciIndex);
    if (Member(json, "config") != nullptr) return std::string(kMediaTypeOciManifest);
    return absl::InvalidArgumentError("cannot tell the manifest's media type");
  }
  if (!IsManifestMediaType(media_type) && !IsIndexMediaType(media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported manifest media type \"", media_type, "\""));
  }
  if (version == nullptr || *version != 2) return Invalid("schemaVersion", "not 2");
  return media_type;
}

absl::Status InvalidManifest(const absl::Status& status) {
  if (!absl::IsInvalidArgument(status)) return status;
  return absl::InvalidArgumentError(absl::StrCat("invalid manifest: ", status.message()));
}

}  // namespace

absl::StatusOr<LayerCompression> LayerCompressionOf(absl::string_view media_type) {
  if (media_type == kMediaTypeOciLayer || media_type == kMediaTypeOciNondistributableLayer) {
    return LayerCompression::kNone;
  }
  if (media_type == kMediaTypeOciLayerGzip ||
      media_type == kMediaTypeOciNondistributableLayerGzip || media_type == kMediaTypeDockerLayer ||
      media_type == kMediaTypeDockerForeignLayer) {
    return LayerCompression::kGzip;
  }
  if (media_type == kMediaTypeOciLayerZstd ||
      media_type == kMediaTypeOciNondistributableLayerZstd) {
    return LayerCompression::kZstd;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown layer media type \"", media_type, "\""));
}

bool IsManifestMediaType(absl::string_view media_type) {
  return media_type == kMediaTypeDockerManifest || media_type == kMediaTypeOciManifest;
}

bool IsIndexMediaType(absl::string_view media_type) {
  return media_type == kMediaTypeDockerManifestList || media_type == kMediaTypeOciIndex;
}

absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view media_type, absl::string_view body) {
  if (static_cast<int64_t>(body.size()) > kMaxManifestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest larger than 4 MiB (", body.size(), " bytes)"));
  }
  std::string content_type = NormalizeMediaType(media_type);
  if (IsSchema1MediaType(content_type)) return Schema1Error();
  if (!IsGenericMediaType(content_type) && !IsManifestMediaType(content_type) &&
      !IsIndexMediaType(content_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported manifest media type \"", content_type, "\""));
  }
  absl::StatusOr<Json> json = ParseJsonObject(body);
  if (!json.ok()) return InvalidManifest(json.status());
  absl::StatusOr<std::string> resolved = ResolveMediaType(content_type, *json);
  if (!resolved.ok()) return InvalidManifest(resolved.status());
  ParsedManifest parsed;
  if (IsIndexMediaType(*resolved)) {
    absl::StatusOr<ImageIndex> index = ParseImageIndex(*json, *resolved);
    if (!index.ok()) return InvalidManifest(index.status());
    parsed.index = *std::move(index);
  } else {
    absl::StatusOr<ImageManifest> manifest = ParseImageManifest(*json, *resolved);
    if (!manifest.ok()) return InvalidManifest(manifest.status());
    parsed.manifest = *std::move(manifest);
  }
  return parsed;
}

namespace {

bool VariantMatches(absl::string_view architecture, absl::string_view wanted,
                    absl::string_view have) {
  if (wanted.empty() || wanted == have) return true;
  if (architecture != "arm64") return false;
  auto v8 = [](absl::string_view variant) { return variant.empty() || variant == "v8"; };
  return v8(wanted) && v8(have);
}

std::string PlatformName(absl::string_view os, absl::string_view architecture,
                         absl::string_view variant) {
  std::string name = absl::StrCat(os, "/", architecture);
  if (!variant.empty()) absl::StrAppend(&name, "/", variant);
  return name;
}

}  // namespace

absl::StatusOr<Descriptor> SelectPlatform(const ImageIndex& index, absl::string_view os,
                                          absl::string_view architecture,
                                          absl::string_view variant) {
  std::vector<std::string> available;
  for (const Descriptor& entry : index.manifests) {
    if (!IsManifestMediaType(entry.media_type) && !IsIndexMediaType(entry.media_type)) continue;
    const Platform& platform = entry.platform;
    if (platform.os == os && platform.architecture == architecture &&
        VariantMatches(architecture, variant, platform.variant)) {
      return entry;
    }
    std::string name = platform.os.empty()
                           ? std::string("(no platform)")
                           : PlatformName(platform.os, platform.architecture, platform.variant);
    if (std::find(available.begin(), available.end(), name) == available.end()) {
      available.push_back(std::move(name));
    }
  }
  std::string wanted = PlatformName(os, architecture, variant);
  if (available.empty()) {
    return absl::NotFoundError(absl::StrCat("no ", wanted, " image in the index; it has none"));
  }
  return absl::NotFoundError(
      absl::StrCat("no ", wanted, " image in the index; it has ", absl::StrJoin(available, ", ")));
}

namespace {

absl::StatusOr<int64_t> ParseCreated(const Json& json) {
  std::string text;
  RETURN_IF_ERROR(ReadString(json, "created", "", text));
  if (text.empty()) return 0;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return Invalid("created", absl::StrCat("\"", text, "\" is not an RFC 3339 time: ", error));
  }
  if (time < absl::UnixEpoch()) return 0;  // e.g. 0001-01-01 from reproducible builds
  if (time >= absl::FromUnixNanos(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return absl::ToUnixNanos(time);
}

absl::Status ParseRootfs(const Json& json, ImageConfig& config) {
  const Json* rootfs = Member(json, "rootfs");
  if (rootfs == nullptr) return Invalid("rootfs", "missing");
  if (!rootfs->is_object()) return Invalid("rootfs", "not an object");
  std::string type;
  RETURN_IF_ERROR(ReadString(*rootfs, "type", "rootfs", type));
  if (type != "layers") return Invalid("rootfs.type", absl::StrCat("\"", type, "\" is not layers"));
  const Json* diff_ids = Member(*rootfs, "diff_ids");
  if (diff_ids == nullptr) return Invalid("rootfs.diff_ids", "missing");
  if (!diff_ids->is_array()) return Invalid("rootfs.diff_ids", "not a list");
  for (size_t i = 0; i < diff_ids->size(); ++i) {
    ASSIGN_OR_RETURN(Digest digest, ReadDigest((*diff_ids)[i], Element("rootfs.diff_ids", i)));
    config.diff_ids.push_back(std::move(digest));
  }
  return absl::OkStatus();
}

// The "config" member: how to run the image (Docker's field names).
absl::Status ParseRunConfig(const Json& json, ImageConfig& config) {
  const Json* run = Member(json, "config");
  if (run == nullptr) return absl::OkStatus();
  if (!run->is_object()) return Invalid("config", "not an object");
  RETURN_IF_ERROR(ReadString(*run, "User", "config", config.user));
  RETURN_IF_ERROR(ReadStringList(*run, "Env", "config", config.env));
  RETURN_IF_ERROR(ReadStringList(*run, "Entrypoint", "config", config.entrypoint));
  RETURN_IF_ERROR(ReadStringList(*run, "Cmd", "config", config.cmd));
  RETURN_IF_ERROR(ReadString(*run, "WorkingDir", "config", config.working_dir));
  RETURN_IF_ERROR(ReadStringMap(*run, "Labels", "config", config.labels));
  RETURN_IF_ERROR(ReadString(*run, "StopSignal", "config", config.stop_signal));
  RETURN_IF_ERROR(ReadKeys(*run, "ExposedPorts", "config", config.exposed_ports));
  return ReadKeys(*run, "Volumes", "config", config.volumes);
}

absl::StatusOr<ImageConfig> ParseImageConfigJson(absl::string_view body) {
  ASSIGN_OR_RETURN(Json json, ParseJsonObject(body));
  ImageConfig config;
  RETURN_IF_ERROR(ReadString(json, "architecture", "", config.architecture));
  RETURN_IF_ERROR(ReadString(json, "os", "", config.os));
  ASSIGN_OR_RETURN(config.created_unix_nanos, ParseCreated(json));
  RETURN_IF_ERROR(ParseRootfs(json, config));
  RETURN_IF_ERROR(ParseRunConfig(json, config));
  return config;
}

}  // namespace

absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view body) {
  if (static_cast<int64_t>(body.size()) > kMaxImageConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("image config larger than 4 MiB (", body.size(), " bytes)"));
  }
  absl::StatusOr<ImageConfig> config = ParseImageConfigJson(body);
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid image config: ", config.status().message()));
  }
  return config;
}

}  // namespace ocid
