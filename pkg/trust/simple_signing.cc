#include "pkg/trust/simple_signing.h"

#include <stdlib.h>

#include <memory>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "pkg/base/child_reaper.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/trust/gpgme_api.h"

namespace ocid {
namespace {

using json = nlohmann::json;

constexpr char kSignatureType[] = "atomic container signature";

// gpgme loaded, with a usable gpg engine.
absl::StatusOr<const GpgmeApi*> InitGpgme() {
  ASSIGN_OR_RETURN(const GpgmeApi* gpgme, LoadGpgme());
  static const absl::Status* const engine = [gpgme] {
    gpgme_error_t error = gpgme->engine_check_version(GPGME_PROTOCOL_OpenPGP);
    return new absl::Status(error == 0 ? absl::OkStatus()
                                       : absl::FailedPreconditionError(absl::StrCat(
                                             "gpgme has no usable gpg engine (install gnupg): ",
                                             gpgme->strerror(error))));
  }();
  RETURN_IF_ERROR(*engine);
  return gpgme;
}

std::string GpgError(const GpgmeApi& gpgme, absl::string_view what, gpgme_error_t error) {
  return absl::StrCat(what, ": ", gpgme.strerror(error));
}

using Context = std::unique_ptr<gpgme_context, GpgContextDeleter>;

struct DataDeleter {
  const GpgmeApi* gpgme;
  void operator()(gpgme_data_t data) const { gpgme->data_release(data); }
};
using Data = std::unique_ptr<gpgme_data, DataDeleter>;

// A context that runs gpg with `home` as its home dir.
absl::StatusOr<Context> NewContext(const GpgmeApi& gpgme, const std::string& home) {
  gpgme_ctx_t raw = nullptr;
  gpgme_error_t error = gpgme.new_context(&raw);
  if (error != 0) return absl::InternalError(GpgError(gpgme, "gpgme_new", error));
  Context ctx(raw);
  error = gpgme.set_protocol(ctx.get(), GPGME_PROTOCOL_OpenPGP);
  if (error == 0) {
    error = gpgme.ctx_set_engine_info(ctx.get(), GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
  }
  if (error != 0) return absl::InternalError(GpgError(gpgme, "gpgme engine setup", error));
  return ctx;
}

absl::StatusOr<Data> DataFrom(const GpgmeApi& gpgme, absl::string_view bytes) {
  gpgme_data_t raw = nullptr;
  gpgme_error_t error = gpgme.data_new_from_mem(&raw, bytes.data(), bytes.size(), /*copy=*/1);
  if (error != 0) return absl::InternalError(GpgError(gpgme, "gpgme_data_new_from_mem", error));
  return Data(raw, DataDeleter{&gpgme});
}

absl::StatusOr<Data> EmptyData(const GpgmeApi& gpgme) {
  gpgme_data_t raw = nullptr;
  gpgme_error_t error = gpgme.data_new(&raw);
  if (error != 0) return absl::InternalError(GpgError(gpgme, "gpgme_data_new", error));
  return Data(raw, DataDeleter{&gpgme});
}

std::string TakeData(Data data) {
  const GpgmeApi& gpgme = *data.get_deleter().gpgme;
  size_t length = 0;
  char* bytes = gpgme.data_release_and_get_mem(data.release(), &length);
  std::string out(bytes == nullptr ? "" : std::string(bytes, length));
  gpgme.free(bytes);
  return out;
}

absl::Status PayloadError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("signature payload: ", what));
}

// Refuses keys of `object` other than `allowed`.
absl::Status OnlyKeys(const json& object, absl::string_view where,
                      const std::set<std::string>& allowed) {
  for (const auto& [key, value] : object.items()) {
    if (allowed.count(key) == 0) {
      return PayloadError(absl::StrCat(where, " has unknown key \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> StringAt(const json& object, const std::string& key,
                                     absl::string_view where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return PayloadError(absl::StrCat(where, ".", key, " must be a string"));
  }
  return it->get<std::string>();
}

bool HasTagOrDigest(absl::string_view text) {
  size_t slash = text.rfind('/');
  absl::string_view last = slash == absl::string_view::npos ? text : text.substr(slash + 1);
  return last.find_first_of(":@") != absl::string_view::npos;
}

// "name@digest" for a reference with a digest, else "name:tag".
std::string ExactIdentity(const ImageReference& reference) {
  if (!reference.digest.empty()) return absl::StrCat(reference.Name(), "@", reference.digest);
  return absl::StrCat(reference.Name(), ":", reference.tag);
}

const char* RuleName(SignedIdentity::Type type) {
  switch (type) {
    case SignedIdentity::Type::kMatchRepoDigestOrExact:
      return "matchRepoDigestOrExact";
    case SignedIdentity::Type::kMatchExact:
      return "matchExact";
    case SignedIdentity::Type::kMatchRepository:
      return "matchRepository";
    case SignedIdentity::Type::kExactReference:
      return "exactReference";
    case SignedIdentity::Type::kExactRepository:
      return "exactRepository";
    case SignedIdentity::Type::kRemapIdentity:
      return "remapIdentity";
  }
  return "?";
}

// matchRepoDigestOrExact: a by-digest image needs only its repository
// signed (the digest is checked against the manifest anyway); a tagged one
// needs exactly its name and tag.
bool RepoDigestOrExact(const ImageReference& image, const ImageReference& signed_reference,
                       bool signed_has_tag_or_digest) {
  if (!image.digest.empty()) return image.Name() == signed_reference.Name();
  return signed_has_tag_or_digest && ExactIdentity(image) == ExactIdentity(signed_reference);
}

}  // namespace

absl::StatusOr<SimpleSigningClaims> ParseSimpleSigningPayload(absl::string_view payload) {
  json document = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) return PayloadError("not a JSON object");
  RETURN_IF_ERROR(OnlyKeys(document, "the payload", {"critical", "optional"}));
  auto critical = document.find("critical");
  if (critical == document.end() || !critical->is_object()) {
    return PayloadError("\"critical\" must be an object");
  }
  auto optional = document.find("optional");
  if (optional != document.end() && !optional->is_object()) {
    return PayloadError("\"optional\" must be an object");
  }
  RETURN_IF_ERROR(OnlyKeys(*critical, "critical", {"type", "image", "identity"}));
  ASSIGN_OR_RETURN(std::string type, StringAt(*critical, "type", "critical"));
  if (type != kSignatureType) {
    return PayloadError(
        absl::StrCat("critical.type is \"", type, "\", not \"", kSignatureType, "\""));
  }
  auto image = critical->find("image");
  auto identity = critical->find("identity");
  if (image == critical->end() || !image->is_object()) {
    return PayloadError("critical.image must be an object");
  }
  if (identity == critical->end() || !identity->is_object()) {
    return PayloadError("critical.identity must be an object");
  }
  RETURN_IF_ERROR(OnlyKeys(*image, "critical.image", {"docker-manifest-digest"}));
  RETURN_IF_ERROR(OnlyKeys(*identity, "critical.identity", {"docker-reference"}));
  SimpleSigningClaims claims;
  ASSIGN_OR_RETURN(claims.manifest_digest,
                   StringAt(*image, "docker-manifest-digest", "critical.image"));
  ASSIGN_OR_RETURN(claims.docker_reference,
                   StringAt(*identity, "docker-reference", "critical.identity"));
  return claims;
}

absl::StatusOr<GpgKeyring> GpgKeyring::Create(const std::vector<std::string>& keys,
                                              const std::string& temp_dir) {
  ASSIGN_OR_RETURN(const GpgmeApi* loaded, InitGpgme());
  const GpgmeApi& gpgme = *loaded;
  std::string path = temp_dir + "/ocid-gpg-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("make a temporary GnuPG home in ", temp_dir));
  }
  GpgKeyring keyring(path);
  // gpg never starts an agent or dirmngr here: verifying needs neither,
  // and one left running would outlive the home.
  RETURN_IF_ERROR(WriteFileAtomically(path + "/gpg.conf", "no-autostart\n",
                                      0600, Durability::kVolatile));
  ASSIGN_OR_RETURN(Context ctx, NewContext(gpgme, path));
  ScopedReapPause pause;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSIGN_OR_RETURN(Data data, DataFrom(gpgme, keys[i]));
    gpgme_error_t error = gpgme.op_import(ctx.get(), data.get());
    if (error != 0) {
      return absl::InvalidArgumentError(GpgError(gpgme, absl::StrCat("import key ", i + 1), error));
    }
    gpgme_import_result_t result = gpgme.op_import_result(ctx.get());
    if (result == nullptr || result->considered == 0 || result->not_imported > 0 ||
        result->imports == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("key ", i + 1, " holds no OpenPGP public key that could be imported"));
    }
  }
  gpgme_error_t error = gpgme.op_keylist_start(ctx.get(), nullptr, /*secret_only=*/0);
  while (error == 0) {
    gpgme_key_t key = nullptr;
    error = gpgme.op_keylist_next(ctx.get(), &key);
    if (error != 0) break;
    if (key->subkeys != nullptr && key->subkeys->fpr != nullptr) {
      std::string primary = key->subkeys->fpr;
      for (gpgme_subkey_t sub = key->subkeys; sub != nullptr; sub = sub->next) {
        if (sub->fpr != nullptr) keyring.signers_[sub->fpr] = primary;
      }
    }
    gpgme.key_unref(key);
  }
  gpgme.op_keylist_end(ctx.get());
  if (gpgme_err_code(error) != GPG_ERR_EOF) {
    return absl::InternalError(GpgError(gpgme, "list the imported keys", error));
  }
  if (keyring.signers_.empty()) return absl::InvalidArgumentError("no key was imported");
  keyring.context_ = std::move(ctx);
  return keyring;
}

void GpgContextDeleter::operator()(gpgme_ctx_t ctx) const {
  // A context exists only once gpgme loaded, so this finds the table.
  absl::StatusOr<const GpgmeApi*> gpgme = LoadGpgme();
  if (gpgme.ok()) (*gpgme)->release(ctx);
}

GpgKeyring::GpgKeyring(GpgKeyring&& other) noexcept
    : home_(std::exchange(other.home_, std::string())),
      context_(std::move(other.context_)),
      signers_(std::move(other.signers_)) {}

GpgKeyring::~GpgKeyring() {
  if (!home_.empty()) RemoveAll(home_).IgnoreError();
}

std::vector<std::string> GpgKeyring::Fingerprints() const {
  std::set<std::string> primaries;
  for (const auto& [fpr, primary] : signers_) primaries.insert(primary);
  return {primaries.begin(), primaries.end()};
}

absl::StatusOr<std::string> GpgKeyring::Verify(absl::string_view signature) {
  if (signature.size() > kMaxSignatureBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature of ", signature.size(), " bytes is larger than 4 MiB"));
  }
  ASSIGN_OR_RETURN(const GpgmeApi* gpgme, LoadGpgme());
  ASSIGN_OR_RETURN(Data input, DataFrom(*gpgme, signature));
  ASSIGN_OR_RETURN(Data plain, EmptyData(*gpgme));
  gpgme_ctx_t ctx = context_.get();
  gpgme_error_t error;
  {
    ScopedReapPause pause;
    error = gpgme->op_verify(ctx, input.get(), nullptr, plain.get());
  }
  if (error != 0) {
    return absl::InvalidArgumentError(GpgError(*gpgme, "not a valid signature", error));
  }
  gpgme_verify_result_t result = gpgme->op_verify_result(ctx);
  if (result == nullptr || result->signatures == nullptr) {
    return absl::InvalidArgumentError("the signature holds no OpenPGP signature");
  }
  if (result->signatures->next != nullptr) {
    return absl::InvalidArgumentError("the signature holds more than one OpenPGP signature");
  }
  gpgme_signature_t sig = result->signatures;
  std::string fpr = sig->fpr == nullptr ? "" : sig->fpr;
  if (gpgme_err_code(sig->status) == GPG_ERR_NO_PUBKEY) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed by key ", fpr, ", which is not one of the policy's keys"));
  }
  if (sig->status != 0) {
    return absl::InvalidArgumentError(
        GpgError(*gpgme, absl::StrCat("bad signature by ", fpr), sig->status));
  }
  if (sig->validity == GPGME_VALIDITY_NEVER || sig->wrong_key_usage) {
    return absl::InvalidArgumentError(absl::StrCat("the signature by ", fpr, " is not valid"));
  }
  if (signers_.count(fpr) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed by key ", fpr, ", which is not one of the policy's keys"));
  }
  return TakeData(std::move(plain));
}

absl::Status CheckSignedIdentity(const SignedIdentity& rule, const ImageReference& image,
                                 const std::string& signed_text) {
  absl::StatusOr<ImageReference> signed_reference = ParseImageReference(signed_text);
  if (!signed_reference.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the signed identity \"", signed_text,
                     "\" is not a reference: ", signed_reference.status().message()));
  }
  const bool explicit_tag_or_digest = HasTagOrDigest(signed_text);
  bool accepted = false;
  using Type = SignedIdentity::Type;
  switch (rule.type) {
    case Type::kMatchRepoDigestOrExact:
      accepted = RepoDigestOrExact(image, *signed_reference, explicit_tag_or_digest);
      break;
    case Type::kMatchExact:
      accepted = explicit_tag_or_digest && ExactIdentity(image) == ExactIdentity(*signed_reference);
      break;
    case Type::kMatchRepository:
      accepted = image.Name() == signed_reference->Name();
      break;
    case Type::kExactReference: {
      absl::StatusOr<ImageReference> wanted = ParseImageReference(rule.docker_reference);
      accepted = wanted.ok() && explicit_tag_or_digest &&
                 ExactIdentity(*wanted) == ExactIdentity(*signed_reference);
      break;
    }
    case Type::kExactRepository: {
      absl::StatusOr<ImageReference> wanted = ParseImageReference(rule.docker_repository);
      accepted = wanted.ok() && wanted->Name() == signed_reference->Name();
      break;
    }
    case Type::kRemapIdentity: {
      ImageReference expected = image;
      const std::string name = image.Name();
      if (name == rule.prefix || absl::StartsWith(name, rule.prefix + "/")) {
        std::string remapped = rule.signed_prefix + name.substr(rule.prefix.size());
        if (!image.tag.empty()) absl::StrAppend(&remapped, ":", image.tag);
        if (!image.digest.empty()) absl::StrAppend(&remapped, "@", image.digest);
        absl::StatusOr<ImageReference> parsed = ParseImageReference(remapped);
        if (!parsed.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("remapIdentity makes \"", remapped,
                                                         "\" of ", name, ", not a reference"));
        }
        expected = *parsed;
      }
      accepted = RepoDigestOrExact(expected, *signed_reference, explicit_tag_or_digest);
      break;
    }
  }
  if (accepted) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the signature is for \"", signed_text,
                                                 "\", which signedIdentity ", RuleName(rule.type),
                                                 " does not accept for ", image.String()));
}

absl::Status CheckSimpleSignature(GpgKeyring& keyring, const PolicyRequirement& requirement,
                                  const ImageReference& image, const std::string& manifest_digest,
                                  absl::string_view signature) {
  ASSIGN_OR_RETURN(std::string payload, keyring.Verify(signature));
  ASSIGN_OR_RETURN(SimpleSigningClaims claims, ParseSimpleSigningPayload(payload));
  if (claims.manifest_digest != manifest_digest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the signature is for manifest ", claims.manifest_digest, ", not ", manifest_digest));
  }
  return CheckSignedIdentity(requirement.identity, image, claims.docker_reference);
}

}  // namespace ocid
