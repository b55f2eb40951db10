#include "pkg/trust/sigstore_attachments.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxAttachedSignatures = 128;

absl::Status ManifestError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("sigstore attachment manifest: ", what));
}

absl::StatusOr<SigstoreLayer> Layer(const json& layer, const std::string& where) {
  if (!layer.is_object()) return ManifestError(absl::StrCat(where, " must be an object"));
  auto media_type = layer.find("mediaType");
  if (media_type == layer.end() || !media_type->is_string() ||
      media_type->get<std::string>() != kSigstorePayloadMediaType) {
    return ManifestError(
        absl::StrCat(where, ".mediaType must be \"", kSigstorePayloadMediaType, "\""));
  }
  SigstoreLayer out;
  auto digest = layer.find("digest");
  if (digest == layer.end() || !digest->is_string()) {
    return ManifestError(absl::StrCat(where, ".digest must be a string"));
  }
  absl::StatusOr<Digest> parsed = ParseDigest(digest->get<std::string>());
  if (!parsed.ok()) {
    return ManifestError(absl::StrCat(where, ".digest: ", parsed.status().message()));
  }
  out.digest = *parsed;
  auto size = layer.find("size");
  if (size == layer.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return ManifestError(absl::StrCat(where, ".size must be a non-negative integer"));
  }
  out.size = size->get<int64_t>();
  if (out.size > static_cast<int64_t>(kMaxSignatureBytes)) {
    return ManifestError(
        absl::StrCat(where, " is a payload of ", out.size, " bytes, larger than 4 MiB"));
  }
  auto annotations = layer.find("annotations");
  const json* signature = nullptr;
  if (annotations != layer.end() && annotations->is_object()) {
    auto it = annotations->find(kSigstoreSignatureAnnotation);
    if (it != annotations->end()) signature = &*it;
  }
  if (signature == nullptr || !signature->is_string()) {
    return ManifestError(
        absl::StrCat(where, " has no string annotation ", kSigstoreSignatureAnnotation));
  }
  out.base64_signature = signature->get<std::string>();
  return out;
}

}  // namespace

absl::StatusOr<std::string> SigstoreAttachmentTag(const std::string& manifest_digest) {
  ASSIGN_OR_RETURN(Digest digest, ParseDigest(manifest_digest));
  return absl::StrCat(digest.algorithm, "-", digest.hex, ".sig");
}

absl::StatusOr<std::vector<SigstoreLayer>> ParseSigstoreAttachmentManifest(absl::string_view body) {
  json document = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) return ManifestError("not a JSON object");
  auto layers = document.find("layers");
  if (layers == document.end() || !layers->is_array()) {
    return ManifestError("\"layers\" must be an array");
  }
  if (layers->size() > kMaxAttachedSignatures) {
    return ManifestError(
        absl::StrCat(layers->size(), " layers, more than ", kMaxAttachedSignatures, " signatures"));
  }
  std::vector<SigstoreLayer> out;
  for (size_t i = 0; i < layers->size(); ++i) {
    ASSIGN_OR_RETURN(SigstoreLayer layer, Layer((*layers)[i], absl::StrCat("layers[", i, "]")));
    out.push_back(std::move(layer));
  }
  return out;
}

AttachmentSource RegistryAttachmentSource(RegistryClient& client, const std::string& repository) {
  AttachmentSource source;
  source.manifest =
      [&client, repository](const std::string& tag) -> absl::StatusOr<std::optional<std::string>> {
    absl::StatusOr<FetchedManifest> fetched = client.GetManifest(repository, tag);
    if (absl::IsNotFound(fetched.status())) return std::nullopt;
    if (!fetched.ok()) return fetched.status();
    return std::move(fetched->body);
  };
  source.blob = [&client, repository](const SigstoreLayer& layer,
                                      size_t max_bytes) -> absl::StatusOr<std::string> {
    std::string body;
    // No more than the manifest says (the caller checks the size too).
    const size_t limit = std::min(max_bytes, static_cast<size_t>(layer.size));
    absl::Status fetched = client.GetBlob(
        repository, layer.digest,
        [&](absl::string_view chunk) {
          if (body.size() + chunk.size() > limit) {
            return absl::OutOfRangeError(absl::StrCat("blob ", layer.digest.String(),
                                                      " is larger than the ", limit,
                                                      " bytes the manifest says"));
          }
          body.append(chunk.data(), chunk.size());
          return absl::OkStatus();
        },
        [&] { body.clear(); });
    if (!fetched.ok()) return fetched;
    return body;
  };
  return source;
}

absl::StatusOr<std::vector<SigstoreSignature>> ReadSigstoreAttachments(
    const AttachmentSource& source, const std::string& manifest_digest) {
  ASSIGN_OR_RETURN(std::string tag, SigstoreAttachmentTag(manifest_digest));
  absl::StatusOr<std::optional<std::string>> manifest = source.manifest(tag);
  if (!manifest.ok()) {
    return absl::Status(
        manifest.status().code(),
        absl::StrCat("read sigstore attachments (tag ", tag, "): ", manifest.status().message()));
  }
  std::vector<SigstoreSignature> signatures;
  if (!manifest->has_value()) return signatures;
  absl::StatusOr<std::vector<SigstoreLayer>> layers = ParseSigstoreAttachmentManifest(**manifest);
  if (!layers.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tag ", tag, ": ", layers.status().message()));
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    const SigstoreLayer& layer = (*layers)[i];
    auto failed = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("tag ", tag, " layer ", i, " (", layer.digest.String(), "): ", why));
    };
    absl::StatusOr<std::string> payload = source.blob(layer, kMaxSignatureBytes);
    if (!payload.ok()) {
      return absl::Status(payload.status().code(),
                          absl::StrCat("tag ", tag, " layer ", i, " (", layer.digest.String(),
                                       "): ", payload.status().message()));
    }
    if (static_cast<int64_t>(payload->size()) != layer.size) {
      return failed(absl::StrCat("the payload has ", payload->size(), " bytes, the manifest says ",
                                 layer.size));
    }
    Digest actual = Sha256Of(*payload);
    if (actual != layer.digest) {
      return failed(absl::StrCat("the payload's digest is ", actual.String()));
    }
    signatures.push_back({std::move(*payload), layer.base64_signature});
  }
  return signatures;
}

}  // namespace ocid
