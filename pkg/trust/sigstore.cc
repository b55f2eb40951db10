#include "pkg/trust/sigstore.h"

#include <cmath>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

using json = nlohmann::json;

constexpr char kSigstoreSignatureType[] = "cosign container image signature";

absl::Status PayloadError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("sigstore payload: ", what));
}

// `object` has exactly the keys `keys`.
absl::Status ExactKeys(const json& object, absl::string_view where,
                       const std::set<std::string>& keys) {
  for (const auto& [key, value] : object.items()) {
    if (keys.count(key) == 0) {
      return PayloadError(absl::StrCat(where, " has unknown key \"", key, "\""));
    }
  }
  for (const std::string& key : keys) {
    if (!object.contains(key)) return PayloadError(absl::StrCat(where, ".", key, " is missing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const json*> ObjectAt(const json& object, const std::string& key,
                                     absl::string_view where) {
  const json& value = object[key];
  if (!value.is_object()) return PayloadError(absl::StrCat(where, ".", key, " must be an object"));
  return &value;
}

absl::StatusOr<std::string> StringAt(const json& object, const std::string& key,
                                     absl::string_view where) {
  const json& value = object[key];
  if (!value.is_string()) return PayloadError(absl::StrCat(where, ".", key, " must be a string"));
  return value.get<std::string>();
}

// "optional" is free-form but for the two keys containers tools read.
absl::Status CheckOptional(const json& optional) {
  if (optional.is_null()) return absl::OkStatus();  // what cosign writes without annotations
  if (!optional.is_object()) return PayloadError("\"optional\" must be an object or null");
  auto creator = optional.find("creator");
  if (creator != optional.end() && !creator->is_string()) {
    return PayloadError("optional.creator must be a string");
  }
  auto timestamp = optional.find("timestamp");
  if (timestamp != optional.end()) {
    bool integral = timestamp->is_number_integer() ||
                    (timestamp->is_number_float() &&
                     std::trunc(timestamp->get<double>()) == timestamp->get<double>());
    if (!integral) return PayloadError("optional.timestamp must be an integer");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SimpleSigningClaims> ParseSigstorePayload(absl::string_view payload) {
  if (payload.size() > kMaxSignatureBytes) return PayloadError("larger than 4 MiB");
  json document = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) return PayloadError("not a JSON object");
  RETURN_IF_ERROR(ExactKeys(document, "the payload", {"critical", "optional"}));
  RETURN_IF_ERROR(CheckOptional(document["optional"]));
  ASSIGN_OR_RETURN(const json* critical, ObjectAt(document, "critical", "the payload"));
  RETURN_IF_ERROR(ExactKeys(*critical, "critical", {"type", "image", "identity"}));
  ASSIGN_OR_RETURN(std::string type, StringAt(*critical, "type", "critical"));
  if (type != kSigstoreSignatureType) {
    return PayloadError(
        absl::StrCat("critical.type is \"", type, "\", not \"", kSigstoreSignatureType, "\""));
  }
  ASSIGN_OR_RETURN(const json* image, ObjectAt(*critical, "image", "critical"));
  ASSIGN_OR_RETURN(const json* identity, ObjectAt(*critical, "identity", "critical"));
  RETURN_IF_ERROR(ExactKeys(*image, "critical.image", {"docker-manifest-digest"}));
  RETURN_IF_ERROR(ExactKeys(*identity, "critical.identity", {"docker-reference"}));
  SimpleSigningClaims claims;
  ASSIGN_OR_RETURN(claims.manifest_digest,
                   StringAt(*image, "docker-manifest-digest", "critical.image"));
  ASSIGN_OR_RETURN(claims.docker_reference,
                   StringAt(*identity, "docker-reference", "critical.identity"));
  return claims;
}

absl::StatusOr<std::vector<SigstorePublicKey>> SigstoreKeys(const PolicyRequirement& requirement) {
  std::vector<SigstorePublicKey> keys;
  for (size_t i = 0; i < requirement.keys.size(); ++i) {
    absl::StatusOr<SigstorePublicKey> key = SigstorePublicKey::FromPem(requirement.keys[i]);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("key ", i + 1, " of ", requirement.keys_source,
                                                     ": ", key.status().message()));
    }
    keys.push_back(std::move(*key));
  }
  if (keys.empty()) return absl::InvalidArgumentError("the requirement has no keys");
  return keys;
}

absl::Status CheckSigstoreSignature(const std::vector<SigstorePublicKey>& keys,
                                    const PolicyRequirement& requirement,
                                    const ImageReference& image, const std::string& manifest_digest,
                                    const SigstoreSignature& signature) {
  std::string der;
  if (signature.base64_signature.empty() ||
      !absl::Base64Unescape(signature.base64_signature, &der)) {
    return absl::InvalidArgumentError("the signature annotation is not base64");
  }
  absl::Status verified = absl::InvalidArgumentError("no key");
  for (const SigstorePublicKey& key : keys) {
    verified = key.Verify(signature.payload, der);
    if (verified.ok()) break;
  }
  if (!verified.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(verified.message(), keys.size() > 1 ? " (any of the policy's keys)" : "",
                     " (keys from ", requirement.keys_source, ")"));
  }
  ASSIGN_OR_RETURN(SimpleSigningClaims claims, ParseSigstorePayload(signature.payload));
  if (claims.manifest_digest != manifest_digest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the signature is for manifest ", claims.manifest_digest, ", not ", manifest_digest));
  }
  return CheckSignedIdentity(requirement.identity, image, claims.docker_reference);
}

}  // namespace ocid
