#include "pkg/trust/registries_d.h"

#include <errno.h>
#include <yaml.h>

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/trust/policy.h"
#include "pkg/trust/simple_signing.h"

namespace ocid {
namespace {

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr int kMaxSignatures = 128;

// One parsed YAML document, freed with the object.
class YamlDocument {
 public:
  YamlDocument() = default;
  YamlDocument(const YamlDocument&) = delete;
  YamlDocument& operator=(const YamlDocument&) = delete;
  ~YamlDocument() {
    if (loaded_) yaml_document_delete(&document_);
  }

  absl::Status Load(absl::string_view text, absl::string_view file_name) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return absl::ResourceExhaustedError("yaml parser");
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    int ok = yaml_parser_load(&parser, &document_);
    absl::Status status;
    if (!ok) {
      status = absl::InvalidArgumentError(
          absl::StrCat(file_name, ":", parser.problem_mark.line + 1, ": ",
                       parser.problem == nullptr ? "invalid YAML" : parser.problem));
    } else {
      loaded_ = true;
    }
    yaml_parser_delete(&parser);
    return status;
  }

  yaml_node_t* Root() { return yaml_document_get_root_node(&document_); }
  yaml_node_t* Node(int index) { return yaml_document_get_node(&document_, index); }

 private:
  yaml_document_t document_;
  bool loaded_ = false;
};

std::string Scalar(const yaml_node_t* node) {
  return std::string(reinterpret_cast<const char*>(node->data.scalar.value),
                     node->data.scalar.length);
}

class RegistriesDParser {
 public:
  RegistriesDParser(YamlDocument& document, absl::string_view file_name)
      : document_(document), file_(file_name) {}

  absl::Status Parse(RegistriesD& into);

 private:
  absl::Status Error(const yaml_node_t* node, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", node->start_mark.line + 1, ": ", what));
  }
  // Calls `each(key, value)` for every pair of the mapping `node`.
  template <typename F>
  absl::Status ForEachPair(yaml_node_t* node, absl::string_view what, F each) {
    if (node->type != YAML_MAPPING_NODE)
      return Error(node, absl::StrCat(what, " must be a mapping"));
    for (yaml_node_pair_t* pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; ++pair) {
      yaml_node_t* key = document_.Node(pair->key);
      yaml_node_t* value = document_.Node(pair->value);
      if (key == nullptr || value == nullptr || key->type != YAML_SCALAR_NODE) {
        return Error(node, absl::StrCat(what, " has a key that is not a string"));
      }
      RETURN_IF_ERROR(each(Scalar(key), value));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<LookasideConfig> Lookaside(yaml_node_t* node, const std::string& what);

  YamlDocument& document_;
  std::string file_;
};

absl::Status RegistriesDParser::Parse(RegistriesD& into) {
  yaml_node_t* root = document_.Root();
  if (root == nullptr) return absl::OkStatus();  // an empty file
  RegistriesD parsed;
  RETURN_IF_ERROR(ForEachPair(root, "the file", [&](const std::string& key, yaml_node_t* value) {
    if (key == "default-docker") {
      if (into.default_docker.has_value() || parsed.default_docker.has_value()) {
        return Error(value, "default-docker is already set (by this or another file)");
      }
      ASSIGN_OR_RETURN(parsed.default_docker, Lookaside(value, "default-docker"));
      return absl::OkStatus();
    }
    if (key == "docker") {
      return ForEachPair(value, "docker", [&](const std::string& scope, yaml_node_t* entry) {
        if (into.docker.count(scope) > 0 || parsed.docker.count(scope) > 0) {
          return Error(entry, absl::StrCat("docker scope \"", scope, "\" is already configured"));
        }
        ASSIGN_OR_RETURN(parsed.docker[scope],
                         Lookaside(entry, absl::StrCat("docker[\"", scope, "\"]")));
        return absl::OkStatus();
      });
    }
    return Error(value, absl::StrCat("unknown key \"", key, "\""));
  }));
  if (parsed.default_docker.has_value()) into.default_docker = parsed.default_docker;
  into.docker.merge(parsed.docker);
  return absl::OkStatus();
}

absl::StatusOr<LookasideConfig> RegistriesDParser::Lookaside(yaml_node_t* node,
                                                             const std::string& what) {
  LookasideConfig config;
  if (node->type == YAML_SCALAR_NODE && Scalar(node).empty()) return config;  // "key:" alone
  RETURN_IF_ERROR(ForEachPair(node, what, [&](const std::string& key, yaml_node_t* value) {
    std::string where = absl::StrCat(what, ".", key);
    if (value->type != YAML_SCALAR_NODE)
      return Error(value, absl::StrCat(where, " must be a string"));
    std::string text = Scalar(value);
    // "sigstore" and "sigstore-staging" are the keys' older names.
    if (key == "lookaside" || key == "sigstore") {
      config.lookaside = text;
    } else if (key == "lookaside-staging" || key == "sigstore-staging") {
      config.lookaside_staging = text;
    } else if (key == "use-sigstore-attachments") {
      if (text != "true" && text != "false") {
        return Error(value, absl::StrCat(where, " must be true or false"));
      }
      config.use_sigstore_attachments = text == "true";
    } else {
      return Error(value, absl::StrCat("unknown key \"", key, "\" in ", what));
    }
    return absl::OkStatus();
  }));
  return config;
}

}  // namespace

std::string RegistriesD::LookasideFor(const ImageReference& image) const {
  for (const std::string& scope : DockerScopeCandidates(image)) {
    auto it = docker.find(scope);
    if (it != docker.end() && !it->second.lookaside.empty()) return it->second.lookaside;
  }
  return default_docker.has_value() ? default_docker->lookaside : "";
}

bool RegistriesD::UseSigstoreAttachments(const ImageReference& image) const {
  for (const std::string& scope : DockerScopeCandidates(image)) {
    auto it = docker.find(scope);
    if (it != docker.end() && it->second.use_sigstore_attachments.has_value()) {
      return *it->second.use_sigstore_attachments;
    }
  }
  return default_docker.has_value() && default_docker->use_sigstore_attachments.value_or(false);
}

absl::Status ParseRegistriesDFile(absl::string_view text, absl::string_view file_name,
                                  RegistriesD& into) {
  YamlDocument document;
  RETURN_IF_ERROR(document.Load(text, file_name));
  return RegistriesDParser(document, file_name).Parse(into);
}

absl::StatusOr<RegistriesD> LoadRegistriesD(const std::string& dir) {
  RegistriesD config;
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (absl::IsNotFound(names.status())) return config;
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names) {
    if (!absl::EndsWith(name, ".yaml")) continue;
    std::string path = absl::StrCat(dir, "/", name);
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxFileBytes));
    RETURN_IF_ERROR(ParseRegistriesDFile(text, path, config));
  }
  return config;
}

std::string SignatureUrl(const std::string& lookaside, const ImageReference& image,
                         const std::string& manifest_digest, int index) {
  std::string digest = manifest_digest;
  size_t colon = digest.find(':');
  if (colon != std::string::npos) digest[colon] = '=';
  std::string base = lookaside;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return absl::StrCat(base, "/", image.repository, "@", digest, "/signature-", index);
}

absl::StatusOr<std::vector<std::string>> ReadLookasideSignatures(const RegistriesD& config,
                                                                 const ImageReference& image,
                                                                 const std::string& manifest_digest,
                                                                 const HttpGet& http_get) {
  std::vector<std::string> signatures;
  const std::string lookaside = config.LookasideFor(image);
  if (lookaside.empty()) return signatures;
  const bool file = absl::StartsWith(lookaside, "file:///");
  const bool http =
      absl::StartsWith(lookaside, "http://") || absl::StartsWith(lookaside, "https://");
  if (!file && !(http && http_get)) {
    return absl::FailedPreconditionError(
        absl::StrCat("lookaside ", lookaside, " for ", image.Name(),
                     ": only file://, http:// and https:// lookasides are read"));
  }
  for (int index = 1; index <= kMaxSignatures; ++index) {
    std::string url = SignatureUrl(lookaside, image, manifest_digest, index);
    if (http) {
      absl::StatusOr<std::optional<std::string>> got = http_get(url, kMaxSignatureBytes);
      if (!got.ok()) {
        return absl::Status(got.status().code(),
                            absl::StrCat("read signature ", url, ": ", got.status().message()));
      }
      if (!got->has_value()) break;
      signatures.push_back(std::move(**got));
      continue;
    }
    std::string path = url.substr(strlen("file://"));
    absl::StatusOr<std::string> signature = ReadFileToString(path, kMaxSignatureBytes);
    if (absl::IsNotFound(signature.status())) break;
    if (!signature.ok()) {
      return absl::Status(signature.status().code(), absl::StrCat("read signature ", path, ": ",
                                                                  signature.status().message()));
    }
    signatures.push_back(std::move(*signature));
  }
  return signatures;
}

}  // namespace ocid
