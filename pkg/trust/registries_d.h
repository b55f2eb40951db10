// Where simple signatures are found: containers-registries.d(5), a dir of
// *.yaml files giving per-scope "lookaside" URLs and whether sigstore
// signatures are read from registry attachments. The signatures of an
// image are <lookaside>/<repository path>@sha256=<hex>/signature-1, -2, ...
// up to the first that does not exist.
#ifndef OCID_PKG_TRUST_REGISTRIES_D_H_
#define OCID_PKG_TRUST_REGISTRIES_D_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"

namespace ocid {

inline constexpr char kDefaultRegistriesDir[] = "/etc/containers/registries.d";

struct LookasideConfig {
  std::string lookaside;  // where signatures are read ("" for none)
  // Where signers write them; ocid never writes, but the key is part of the
  // format, so it is read and kept.
  std::string lookaside_staging;
  // use-sigstore-attachments; unset when the entry does not say.
  std::optional<bool> use_sigstore_attachments;
};

struct RegistriesD {
  std::optional<LookasideConfig> default_docker;
  std::map<std::string, LookasideConfig> docker;  // by scope (as in policy.json)

  // The lookaside base URL for `image`: that of the most specific scope
  // that has one (DockerScopeCandidates order), else default-docker's; ""
  // when there is none.
  std::string LookasideFor(const ImageReference& image) const;
  // Whether sigstore signatures are read from the registry's attachments
  // for `image`: the value of the most specific scope that sets
  // use-sigstore-attachments, else default-docker's, else false.
  bool UseSigstoreAttachments(const ImageReference& image) const;
};

// Merges one registries.d YAML document into `into`. InvalidArgument names
// `file_name` and the key: unknown keys, values that are not strings, a
// scope or default-docker already given by another file, and a
// use-sigstore-attachments that is not true or false.
absl::Status ParseRegistriesDFile(absl::string_view text, absl::string_view file_name,
                                  RegistriesD& into);

// Reads every `dir`/*.yaml in lexical order; a missing dir gives an empty
// configuration.
absl::StatusOr<RegistriesD> LoadRegistriesD(const std::string& dir);

// The URL of signature `index` (from 1) of the image with `manifest_digest`
// ("sha256:<hex>") in repository `image` under `lookaside`.
std::string SignatureUrl(const std::string& lookaside, const ImageReference& image,
                         const std::string& manifest_digest, int index);

// GET of an http(s) URL: the body, nullopt when it does not exist (404).
using HttpGet = std::function<absl::StatusOr<std::optional<std::string>>(const std::string& url,
                                                                         size_t max_bytes)>;

// The image's signatures from its lookaside: signature-1, -2, ... until
// one is missing (at most 128, each at most 4 MiB). None when there is no
// lookaside for it. file:// URLs are read here, http(s):// ones through
// `http_get`; without one, or for another scheme, FailedPrecondition says so.
absl::StatusOr<std::vector<std::string>> ReadLookasideSignatures(const RegistriesD& config,
                                                                 const ImageReference& image,
                                                                 const std::string& manifest_digest,
                                                                 const HttpGet& http_get = nullptr);

}  // namespace ocid

#endif  // OCID_PKG_TRUST_REGISTRIES_D_H_
