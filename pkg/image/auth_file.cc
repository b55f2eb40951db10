#include "pkg/image/auth_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid {
namespace {

// Far above any real auth file; a bigger file is refused, not read.
constexpr size_t kMaxFileBytes = 4 << 20;

using Json = nlohmann::json;

absl::Status Malformed(const std::string& path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("auth file ", path, ": ", problem));
}

// Docker Hub answers to several names; docker's own tools wrote the oldest.
std::string NormalizeHost(absl::string_view host) {
  if (host == "index.docker.io" || host == "registry-1.docker.io") return "docker.io";
  return std::string(host);
}

// Brings a key of "auths" to our "registry[/repository]" form. Keys written
// as URLs ("https://quay.io/v2/") were always meant for the whole registry,
// as was docker's legacy "index.docker.io/v1/".
std::string NormalizeKey(absl::string_view key) {
  bool url = absl::ConsumePrefix(&key, "https://") || absl::ConsumePrefix(&key, "http://");
  while (absl::ConsumeSuffix(&key, "/")) {
  }
  size_t slash = key.find('/');
  std::string host = NormalizeHost(key.substr(0, slash));
  if (slash == absl::string_view::npos || url) return host;
  absl::string_view path = key.substr(slash + 1);
  if (host == "docker.io" && (path == "v1" || path == "v2")) return host;
  return absl::StrCat(host, "/", path);
}

// The entries of "auths" by normalized key. When two keys normalize alike,
// the one already written in normal form wins, as newer tools write that.
std::map<std::string, const Json*> IndexEntries(const Json& auths) {
  std::map<std::string, const Json*> index;
  for (const auto& [key, entry] : auths.items()) {
    std::string normal = NormalizeKey(key);
    auto [it, inserted] = index.emplace(normal, &entry);
    if (!inserted && key == normal) it->second = &entry;
  }
  return index;
}

absl::Status ReadString(const std::string& path, const std::string& key, const Json& entry,
                        const char* field, std::string& out) {
  auto it = entry.find(field);
  if (it == entry.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return Malformed(path, absl::StrCat("\"", key, "\".", field, " must be a string"));
  }
  out = it->get<std::string>();
  return absl::OkStatus();
}

absl::StatusOr<RegistryCredentials> DecodeEntry(const std::string& path, const std::string& key,
                                                const Json& entry) {
  if (!entry.is_object()) return Malformed(path, absl::StrCat("\"", key, "\" is not an object"));
  RegistryCredentials creds;
  std::string auth;
  RETURN_IF_ERROR(ReadString(path, key, entry, "auth", auth));
  RETURN_IF_ERROR(ReadString(path, key, entry, "identitytoken", creds.identity_token));
  RETURN_IF_ERROR(ReadString(path, key, entry, "registrytoken", creds.registry_token));
  if (auth.empty()) return creds;
  std::string decoded;
  if (!absl::Base64Unescape(auth, &decoded)) {
    return Malformed(path, absl::StrCat("\"", key, "\".auth is not base64"));
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return Malformed(path, absl::StrCat("\"", key, "\".auth is not base64(\"user:password\")"));
  }
  creds.username = decoded.substr(0, colon);
  creds.password = decoded.substr(colon + 1);
  return creds;
}


}  // namespace

bool RegistryCredentials::empty() const {
  return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
}

absl::StatusOr<RegistryCredentials> LookupAuthFile(const std::string& path,
                                                   absl::string_view registry,
                                                   absl::string_view repository) {
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxFileBytes);
  if (absl::IsNotFound(text.status())) return RegistryCredentials();
  if (!text.ok()) return text.status();
  Json document = Json::parse(*text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Malformed(path, "malformed JSON");
  if (!document.is_object()) return Malformed(path, "the top level must be an object");
  auto auths = document.find("auths");
  if (auths == document.end() || auths->is_null()) return RegistryCredentials();
  if (!auths->is_object()) return Malformed(path, "\"auths\" must be an object");

  std::map<std::string, const Json*> index = IndexEntries(*auths);
  // "reg/ns/repo", then "reg/ns", then "reg".
  std::string key = absl::StrCat(NormalizeHost(registry), "/", repository);
  while (true) {
    auto found = index.find(key);
    if (found != index.end()) return DecodeEntry(path, found->first, *found->second);
    size_t slash = key.rfind('/');
    if (slash == std::string::npos) return RegistryCredentials();
    key.resize(slash);
  }
}

}  // namespace ocid
