#include "pkg/trust/policy.h"

#include <sys/stat.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/trust/sigstore_key.h"

namespace ocid {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxPolicyBytes = 4 << 20;
constexpr size_t kMaxKeyBytes = 1 << 20;

// Labels every error with the file and the entry being read.
class PolicyParser {
 public:
  explicit PolicyParser(absl::string_view file_name) : file_(file_name) {}

  absl::StatusOr<Policy> Parse(absl::string_view text);

 private:
  absl::Status Error(absl::string_view where, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", where, ": ", what));
  }
  absl::Status CheckKeys(const json& object, absl::string_view where,
                         const std::set<std::string>& allowed) const;
  absl::StatusOr<std::string> String(const json& object, const std::string& key,
                                     absl::string_view where, bool required) const;
  absl::StatusOr<PolicyRequirements> Requirements(const json& value, const std::string& where);
  absl::StatusOr<PolicyRequirement> Requirement(const json& value, const std::string& where);
  absl::Status SignedBy(const json& value, const std::string& where, PolicyRequirement& out);
  absl::Status SigstoreSigned(const json& value, const std::string& where, PolicyRequirement& out);
  absl::StatusOr<SignedIdentity> Identity(const json& value, const std::string& where);
  absl::StatusOr<std::string> ReadKeyFile(const std::string& path, const std::string& where);

  std::string file_;
};

// "host", "host:port" or "[v6]:port": the registry part of a scope.
bool IsRegistryHost(absl::string_view host) {
  if (host.empty()) return false;
  absl::string_view name = host;
  size_t colon = host.rfind(':');
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    name = host.substr(0, close + 1);
    absl::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || rest.size() == 1) return false;
      for (char c : rest.substr(1)) {
        if (!absl::ascii_isdigit(c)) return false;
      }
    }
    return name.size() > 2;
  }
  if (colon != absl::string_view::npos) {
    name = host.substr(0, colon);
    absl::string_view port = host.substr(colon + 1);
    if (port.empty()) return false;
    for (char c : port) {
      if (!absl::ascii_isdigit(c)) return false;
    }
  }
  if (name.empty() || name.front() == '.' || name.front() == '-' || name.back() == '.') {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// True when the last path component of `text` carries an explicit tag.
bool HasExplicitTag(absl::string_view text) {
  size_t slash = text.rfind('/');
  absl::string_view last = slash == absl::string_view::npos ? text : text.substr(slash + 1);
  return last.substr(0, last.find('@')).find(':') != absl::string_view::npos;
}

// Why `scope` is not a valid docker scope, or "" when it is: "", a wildcard
// "*.example.com", a host[:port], or a canonical "host[:port]/repo[:tag|@digest]".
std::string DockerScopeProblem(const std::string& scope) {
  if (scope.empty()) return "";
  if (absl::StartsWith(scope, "*.")) {
    absl::string_view domain = absl::string_view(scope).substr(2);
    if (domain.find(':') != absl::string_view::npos || !IsRegistryHost(domain)) {
      return "a wildcard scope must be \"*.\" followed by a domain name";
    }
    return "";
  }
  if (scope.find('/') == std::string::npos) {
    return IsRegistryHost(scope) ? "" : "not a registry host[:port]";
  }
  if (IsShortName(scope)) return "a scope must name its registry (host[:port]/...)";
  absl::StatusOr<ImageReference> reference = ParseImageReference(scope);
  if (!reference.ok()) return std::string(reference.status().message());
  std::string canonical = reference->Name();
  if (HasExplicitTag(scope)) absl::StrAppend(&canonical, ":", reference->tag);
  if (!reference->digest.empty()) absl::StrAppend(&canonical, "@", reference->digest);
  if (canonical != scope) return absl::StrCat("not in canonical form (", canonical, ")");
  return "";
}

// "host[:port]" or "host[:port]/ns...", without tag or digest: remapIdentity's prefixes.
bool IsRepositoryPrefix(const std::string& prefix) {
  if (prefix.find('/') == std::string::npos) return IsRegistryHost(prefix);
  if (prefix.find('@') != std::string::npos || HasExplicitTag(prefix)) return false;
  return DockerScopeProblem(prefix).empty();
}

}  // namespace

absl::Status PolicyParser::CheckKeys(const json& object, absl::string_view where,
                                     const std::set<std::string>& allowed) const {
  for (const auto& [key, value] : object.items()) {
    if (allowed.count(key) == 0) return Error(where, absl::StrCat("unknown key \"", key, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PolicyParser::String(const json& object, const std::string& key,
                                                 absl::string_view where, bool required) const {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) return Error(where, absl::StrCat("\"", key, "\" is missing"));
    return std::string();
  }
  if (!it->is_string()) return Error(where, absl::StrCat("\"", key, "\" must be a string"));
  return it->get<std::string>();
}

absl::StatusOr<Policy> PolicyParser::Parse(absl::string_view text) {
  json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Error("policy", "not valid JSON");
  if (!document.is_object()) return Error("policy", "the top level must be a JSON object");
  RETURN_IF_ERROR(CheckKeys(document, "policy", {"default", "transports"}));
  Policy policy;
  auto default_it = document.find("default");
  if (default_it == document.end()) return Error("policy", "\"default\" is missing");
  ASSIGN_OR_RETURN(policy.default_requirements, Requirements(*default_it, "default"));
  auto transports = document.find("transports");
  if (transports == document.end()) return policy;
  if (!transports->is_object()) return Error("transports", "must be an object");
  for (const auto& [transport, scopes] : transports->items()) {
    std::string where = absl::StrCat("transports.", transport);
    if (!scopes.is_object()) return Error(where, "must be an object of scopes");
    auto& out = policy.transports[transport];
    for (const auto& [scope, requirements] : scopes.items()) {
      std::string scope_where = absl::StrCat(where, "[\"", scope, "\"]");
      if (transport == "docker") {
        std::string problem = DockerScopeProblem(scope);
        if (!problem.empty()) return Error(scope_where, absl::StrCat("invalid scope: ", problem));
      }
      ASSIGN_OR_RETURN(out[scope], Requirements(requirements, scope_where));
    }
  }
  return policy;
}

absl::StatusOr<PolicyRequirements> PolicyParser::Requirements(const json& value,
                                                              const std::string& where) {
  if (!value.is_array()) return Error(where, "must be an array of requirements");
  if (value.empty()) return Error(where, "must list at least one requirement");
  PolicyRequirements requirements;
  for (size_t i = 0; i < value.size(); ++i) {
    ASSIGN_OR_RETURN(PolicyRequirement requirement,
                     Requirement(value[i], absl::StrCat(where, "[", i, "]")));
    requirements.push_back(std::move(requirement));
  }
  return requirements;
}

absl::StatusOr<PolicyRequirement> PolicyParser::Requirement(const json& value,
                                                            const std::string& where) {
  if (!value.is_object()) return Error(where, "a requirement must be an object");
  ASSIGN_OR_RETURN(std::string type, String(value, "type", where, /*required=*/true));
  PolicyRequirement requirement;
  if (type == "insecureAcceptAnything") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type"}));
    requirement.type = PolicyRequirement::Type::kInsecureAcceptAnything;
  } else if (type == "reject") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type"}));
    requirement.type = PolicyRequirement::Type::kReject;
  } else if (type == "signedBy") {
    requirement.type = PolicyRequirement::Type::kSignedBy;
    RETURN_IF_ERROR(SignedBy(value, where, requirement));
  } else if (type == "sigstoreSigned") {
    requirement.type = PolicyRequirement::Type::kSigstoreSigned;
    RETURN_IF_ERROR(SigstoreSigned(value, where, requirement));
  } else {
    return Error(where, absl::StrCat("unknown requirement type \"", type, "\""));
  }
  return requirement;
}

absl::Status PolicyParser::SignedBy(const json& value, const std::string& where,
                                    PolicyRequirement& out) {
  RETURN_IF_ERROR(CheckKeys(
      value, where, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"}));
  ASSIGN_OR_RETURN(std::string key_type, String(value, "keyType", where, /*required=*/true));
  if (key_type != "GPGKeys") {
    return Error(where, absl::StrCat("keyType \"", key_type, "\" is not supported (only GPGKeys)"));
  }
  int sources = static_cast<int>(value.contains("keyPath")) +
                static_cast<int>(value.contains("keyPaths")) +
                static_cast<int>(value.contains("keyData"));
  if (sources != 1) return Error(where, "exactly one of keyPath, keyPaths and keyData must be set");
  std::vector<std::string> paths;
  if (value.contains("keyPath")) {
    ASSIGN_OR_RETURN(std::string path, String(value, "keyPath", where, true));
    paths.push_back(path);
  } else if (value.contains("keyPaths")) {
    const json& list = value["keyPaths"];
    if (!list.is_array() || list.empty()) {
      return Error(where, "\"keyPaths\" must be a non-empty array of strings");
    }
    for (const json& path : list) {
      if (!path.is_string())
        return Error(where, "\"keyPaths\" must be a non-empty array of strings");
      paths.push_back(path.get<std::string>());
    }
  } else {
    ASSIGN_OR_RETURN(std::string data, String(value, "keyData", where, true));
    std::string decoded;
    if (data.empty() || !absl::Base64Unescape(data, &decoded)) {
      return Error(where, "\"keyData\" is not base64");
    }
    out.keys.push_back(std::move(decoded));
    out.keys_source = "keyData";
  }
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::string key, ReadKeyFile(path, where));
    out.keys.push_back(std::move(key));
  }
  if (!paths.empty()) out.keys_source = absl::StrJoin(paths, ", ");
  if (value.contains("signedIdentity")) {
    ASSIGN_OR_RETURN(out.identity, Identity(value["signedIdentity"], where + ".signedIdentity"));
  }
  return absl::OkStatus();
}

// Keys given by public key files or inline: fulcio, rekor and pki need
// certificate and transparency-log checks ocid does not make, so a policy
// using them is refused when it is loaded rather than failing every pull.
absl::Status PolicyParser::SigstoreSigned(const json& value, const std::string& where,
                                          PolicyRequirement& out) {
  RETURN_IF_ERROR(CheckKeys(value, where,
                            {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio",
                             "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
                             "rekorPublicKeyDatas", "pki", "signedIdentity"}));
  for (const char* unsupported : {"fulcio", "rekorPublicKeyPath", "rekorPublicKeyPaths",
                                  "rekorPublicKeyData", "rekorPublicKeyDatas", "pki"}) {
    if (value.contains(unsupported)) {
      return Error(where, absl::StrCat("\"", unsupported,
                                       "\" is not supported: ocid verifies sigstore signatures "
                                       "with public keys only (keyPath, keyPaths, keyData, "
                                       "keyDatas)"));
    }
  }
  int sources =
      static_cast<int>(value.contains("keyPath")) + static_cast<int>(value.contains("keyPaths")) +
      static_cast<int>(value.contains("keyData")) + static_cast<int>(value.contains("keyDatas"));
  if (sources != 1) {
    return Error(where, "exactly one of keyPath, keyPaths, keyData and keyDatas must be set");
  }
  auto strings = [&](const std::string& key) -> absl::StatusOr<std::vector<std::string>> {
    const json& list = value[key];
    std::vector<std::string> out;
    if (list.is_array()) {
      for (const json& item : list) {
        if (!item.is_string()) break;
        out.push_back(item.get<std::string>());
      }
    }
    if (!list.is_array() || list.empty() || out.size() != list.size()) {
      return Error(where, absl::StrCat("\"", key, "\" must be a non-empty array of strings"));
    }
    return out;
  };
  std::vector<std::string> paths;
  std::vector<std::string> datas;
  if (value.contains("keyPath")) {
    ASSIGN_OR_RETURN(std::string path, String(value, "keyPath", where, true));
    paths.push_back(path);
  } else if (value.contains("keyPaths")) {
    ASSIGN_OR_RETURN(paths, strings("keyPaths"));
  } else if (value.contains("keyData")) {
    ASSIGN_OR_RETURN(std::string data, String(value, "keyData", where, true));
    datas.push_back(data);
  } else {
    ASSIGN_OR_RETURN(datas, strings("keyDatas"));
  }
  for (const std::string& data : datas) {
    std::string decoded;
    if (data.empty() || !absl::Base64Unescape(data, &decoded)) {
      return Error(where, "\"keyData\" is not base64");
    }
    out.keys.push_back(std::move(decoded));
  }
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::string key, ReadKeyFile(path, where));
    out.keys.push_back(std::move(key));
  }
  out.keys_source = paths.empty() ? "keyData" : absl::StrJoin(paths, ", ");
  for (size_t i = 0; i < out.keys.size(); ++i) {
    absl::StatusOr<SigstorePublicKey> key = SigstorePublicKey::FromPem(out.keys[i]);
    if (!key.ok()) {
      std::string source = paths.empty() ? absl::StrCat("keyData ", i + 1) : paths[i];
      return Error(where, absl::StrCat(source, ": ", key.status().message()));
    }
  }
  if (value.contains("signedIdentity")) {
    ASSIGN_OR_RETURN(out.identity, Identity(value["signedIdentity"], where + ".signedIdentity"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SignedIdentity> PolicyParser::Identity(const json& value, const std::string& where) {
  if (!value.is_object()) return Error(where, "must be an object");
  ASSIGN_OR_RETURN(std::string type, String(value, "type", where, /*required=*/true));
  SignedIdentity identity;
  using Type = SignedIdentity::Type;
  if (type == "matchRepoDigestOrExact" || type == "matchExact" || type == "matchRepository") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type"}));
    identity.type = type == "matchExact"        ? Type::kMatchExact
                    : type == "matchRepository" ? Type::kMatchRepository
                                                : Type::kMatchRepoDigestOrExact;
  } else if (type == "exactReference") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type", "dockerReference"}));
    identity.type = Type::kExactReference;
    ASSIGN_OR_RETURN(identity.docker_reference, String(value, "dockerReference", where, true));
    absl::StatusOr<ImageReference> parsed = ParseImageReference(identity.docker_reference);
    if (!parsed.ok() || (!HasExplicitTag(identity.docker_reference) && parsed->digest.empty())) {
      return Error(where, "\"dockerReference\" must be a reference with a tag or digest");
    }
  } else if (type == "exactRepository") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type", "dockerRepository"}));
    identity.type = Type::kExactRepository;
    ASSIGN_OR_RETURN(identity.docker_repository, String(value, "dockerRepository", where, true));
    absl::StatusOr<ImageReference> parsed = ParseImageReference(identity.docker_repository);
    if (!parsed.ok() || HasExplicitTag(identity.docker_repository) || !parsed->digest.empty()) {
      return Error(where, "\"dockerRepository\" must be a repository name without tag or digest");
    }
  } else if (type == "remapIdentity") {
    RETURN_IF_ERROR(CheckKeys(value, where, {"type", "prefix", "signedPrefix"}));
    identity.type = Type::kRemapIdentity;
    ASSIGN_OR_RETURN(identity.prefix, String(value, "prefix", where, true));
    ASSIGN_OR_RETURN(identity.signed_prefix, String(value, "signedPrefix", where, true));
    if (!IsRepositoryPrefix(identity.prefix)) {
      return Error(where, "\"prefix\" must be host[:port] or host[:port]/namespace...");
    }
    if (!IsRepositoryPrefix(identity.signed_prefix)) {
      return Error(where, "\"signedPrefix\" must be host[:port] or host[:port]/namespace...");
    }
  } else {
    return Error(where, absl::StrCat("unknown signedIdentity type \"", type, "\""));
  }
  return identity;
}

absl::StatusOr<std::string> PolicyParser::ReadKeyFile(const std::string& path,
                                                      const std::string& where) {
  if (path.empty() || path.front() != '/') {
    return Error(where, absl::StrCat("key file \"", path, "\" must be an absolute path"));
  }
  // Not a FIFO or a device: reading one could block or never end.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Error(where, absl::StrCat("key file ", path, " is not a regular file"));
  }
  absl::StatusOr<std::string> key = ReadFileToString(path, kMaxKeyBytes);
  if (!key.ok()) {
    return Error(where, absl::StrCat("key file ", path, ": ", key.status().message()));
  }
  return key;
}

std::vector<std::string> DockerScopeCandidates(const ImageReference& image) {
  std::vector<std::string> scopes;
  const std::string name = image.Name();
  if (!image.digest.empty()) scopes.push_back(absl::StrCat(name, "@", image.digest));
  if (!image.tag.empty()) scopes.push_back(absl::StrCat(name, ":", image.tag));
  for (std::string prefix = name;;) {
    scopes.push_back(prefix);
    size_t slash = prefix.rfind('/');
    if (slash == std::string::npos) break;
    prefix.resize(slash);
  }
  // "a.b.example.com" -> "*.b.example.com", "*.example.com", "*.com". A
  // host with a port is matched by no wildcard (a wildcard names no port).
  const std::string& host = image.registry;
  if (host.find(':') == std::string::npos) {
    for (size_t dot = host.find('.'); dot != std::string::npos; dot = host.find('.', dot + 1)) {
      scopes.push_back(absl::StrCat("*", host.substr(dot)));
    }
  }
  return scopes;
}

absl::StatusOr<ScopedRequirements> Policy::RequirementsFor(absl::string_view transport,
                                                           const ImageReference& image) const {
  if (transport != "docker") {
    return absl::FailedPreconditionError(
        absl::StrCat("transport \"", transport,
                     "\" is not supported: ocid pulls only from registries (docker)"));
  }
  auto scopes = transports.find("docker");
  if (scopes != transports.end()) {
    for (const std::string& candidate : DockerScopeCandidates(image)) {
      auto it = scopes->second.find(candidate);
      if (it != scopes->second.end()) {
        return ScopedRequirements{absl::StrCat("transports.docker[\"", candidate, "\"]"),
                                  &it->second};
      }
    }
    auto it = scopes->second.find("");
    if (it != scopes->second.end()) {
      return ScopedRequirements{"transports.docker[\"\"]", &it->second};
    }
  }
  return ScopedRequirements{"default", &default_requirements};
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view file_name) {
  return PolicyParser(file_name).Parse(text);
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxPolicyBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("read policy ", path, ": ", text.status().message()));
  }
  return ParsePolicy(*text, path);
}

Policy AcceptAnythingPolicy() {
  Policy policy;
  PolicyRequirement accept;
  accept.type = PolicyRequirement::Type::kInsecureAcceptAnything;
  policy.default_requirements.push_back(accept);
  return policy;
}

}  // namespace ocid
