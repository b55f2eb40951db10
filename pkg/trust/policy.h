// The image trust policy: containers-policy.json(5). A policy gives, for the
// image a pull is about to store, the requirements it must meet: accept it,
// reject it, or require a GPG simple signature or a sigstore signature by
// one of some keys whose signed identity matches. Scopes are looked up most
// specific first.
#ifndef OCID_PKG_TRUST_POLICY_H_
#define OCID_PKG_TRUST_POLICY_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pkg/image/reference.h"

namespace ocid {

inline constexpr char kDefaultPolicyFile[] = "/etc/containers/policy.json";
// The largest policy file read.
inline constexpr size_t kMaxPolicyFileBytes = 4 << 20;

// Which identity a signature must claim for the image being pulled
// (signedBy's "signedIdentity").
struct SignedIdentity {
  enum class Type {
    kMatchRepoDigestOrExact,  // the default
    kMatchExact,
    kMatchRepository,
    kExactReference,
    kExactRepository,
    kRemapIdentity,
  };
  Type type = Type::kMatchRepoDigestOrExact;
  std::string docker_reference;   // exactReference: "host/repo:tag" or "@digest"
  std::string docker_repository;  // exactRepository: "host/repo"
  std::string prefix;             // remapIdentity: "host[:port][/ns...]"
  std::string signed_prefix;      // remapIdentity: what `prefix` becomes
};

struct PolicyRequirement {
  enum class Type { kInsecureAcceptAnything, kReject, kSignedBy, kSigstoreSigned };
  Type type = Type::kReject;
  // signedBy: the keys' bytes (armored or binary OpenPGP public keys), read
  // from keyPath/keyPaths or decoded from keyData when the policy is loaded.
  // sigstoreSigned: PEM public keys (each checked to be ECDSA P-256 when
  // the policy is loaded), from keyPath/keyPaths or keyData/keyDatas.
  std::vector<std::string> keys;
  // Where `keys` came from, for messages: the key files, or "keyData".
  std::string keys_source;
  SignedIdentity identity;
};

using PolicyRequirements = std::vector<PolicyRequirement>;

// The requirements that apply to one image, and the scope that chose them.
struct ScopedRequirements {
  // `transports.docker["<scope>"]`, `transports.docker[""]` or `default`.
  std::string scope;
  const PolicyRequirements* requirements = nullptr;
};

struct Policy {
  PolicyRequirements default_requirements;
  // transport name -> scope -> requirements.
  std::map<std::string, std::map<std::string, PolicyRequirements>> transports;

  // The requirements for `image` pulled through `transport`. Only "docker"
  // is supported (ocid pulls from registries alone): another transport is
  // FailedPrecondition saying so.
  absl::StatusOr<ScopedRequirements> RequirementsFor(absl::string_view transport,
                                                     const ImageReference& image) const;
};

// The docker scopes that may name `image`, most specific first:
// "host/ns/repo:tag" (or "@digest"), "host/ns/repo", "host/ns", "host",
// then the host's wildcard domains ("*.b.example.com", "*.example.com",
// "*.com"). registries.d(5) looks up its scopes the same way.
std::vector<std::string> DockerScopeCandidates(const ImageReference& image);

// Parses containers-policy.json text. Key files named by keyPath/keyPaths are
// read (they must be absolute paths). InvalidArgument names `file_name` and
// the entry for an unknown key or requirement type, a missing or wrong-typed
// field, an invalid docker scope, a bad keyData, an unreadable key file, a
// sigstore key that is not ECDSA P-256, or sigstoreSigned's fulcio, pki and
// rekorPublicKey* (not supported).
absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view file_name);

// Reads and parses `path` (at most 4 MiB). A missing file is NotFound.
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path);

// A policy that accepts every image (what ocid did before it read policies).
Policy AcceptAnythingPolicy();

}  // namespace ocid

#endif  // OCID_PKG_TRUST_POLICY_H_
