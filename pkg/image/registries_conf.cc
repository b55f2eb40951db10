#include "pkg/image/registries_conf.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <initializer_list>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "toml++/toml.h"

namespace ocid {
namespace {

// Far above any real registries.conf; a bigger file is refused, not read.
constexpr size_t kMaxFileBytes = 4 << 20;

constexpr char kSearchKey[] = "unqualified-search-registries";

// Reads registries.conf tables; every error starts "file:line:" and names the
// key by its dotted path ("registry.mirror.location") so it can be found.
class ConfReader {
 public:
  explicit ConfReader(absl::string_view file) : file_(file) {}

  absl::Status Error(const toml::source_region& where, absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", where.begin.line, ": ", problem));
  }

  absl::Status KeyError(const toml::node& node, absl::string_view key,
                        absl::string_view problem) const {
    return Error(node.source(), absl::StrCat("key \"", key, "\" ", problem));
  }

  // Refuses any key of `table` not in `known`; `path` is the table's own key.
  absl::Status CheckKeys(const toml::table& table, absl::string_view path,
                         std::initializer_list<absl::string_view> known) const {
    for (const auto& [key, node] : table) {
      std::string name(key.str());
      bool found = false;
      for (absl::string_view k : known) found = found || k == name;
      if (found) continue;
      std::string hint =
          path.empty() && name == "registries" ? " (the version 1 format is not supported)" : "";
      return Error(key.source(), absl::StrCat("unknown key \"", Join(path, name), "\"", hint));
    }
    return absl::OkStatus();
  }

  absl::Status String(const toml::table& table, absl::string_view path, const char* key,
                      std::string& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_string()) return KeyError(*node, Join(path, key), "must be a string");
    out = *node->value<std::string>();
    return absl::OkStatus();
  }

  absl::Status Bool(const toml::table& table, absl::string_view path, const char* key,
                    bool& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_boolean()) return KeyError(*node, Join(path, key), "must be a boolean");
    out = *node->value<bool>();
    return absl::OkStatus();
  }

  absl::Status StringList(const toml::table& table, const char* key,
                          std::vector<std::string>& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return absl::OkStatus();
    const toml::array* array = node->as_array();
    if (array == nullptr) return KeyError(*node, key, "must be an array of strings");
    std::vector<std::string> values;
    for (const toml::node& element : *array) {
      if (!element.is_string()) return KeyError(element, key, "must be an array of strings");
      values.push_back(*element.value<std::string>());
    }
    out = std::move(values);
    return absl::OkStatus();
  }

  // The tables of `[[path.key]]`; an absent key is an empty list.
  absl::StatusOr<std::vector<const toml::table*>> Tables(const toml::table& table,
                                                         absl::string_view path,
                                                         const char* key) const {
    std::vector<const toml::table*> tables;
    const toml::node* node = table.get(key);
    if (node == nullptr) return tables;
    const toml::array* array = node->as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      return KeyError(*node, Join(path, key),
                      absl::StrCat("must be an array of tables ([[", Join(path, key), "]])"));
    }
    for (const toml::node& element : *array) tables.push_back(element.as_table());
    return tables;
  }

 private:
  static std::string Join(absl::string_view path, absl::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }

  std::string file_;
};

// A location or prefix is "host[:port][/path]"; we take neither schemes nor
// the wildcard form, which this subset does not implement.
absl::Status CheckLocation(const ConfReader& r, const toml::table& table, const char* key,
                           const std::string& value) {
  if (absl::StrContains(value, "://")) {
    return r.Error(table.source(), absl::StrCat(key, " \"", value, "\" must not have a scheme"));
  }
  if (absl::StartsWith(value, "*")) {
    return r.Error(table.source(),
                   absl::StrCat(key, " \"", value, "\": wildcard prefixes are not supported"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RegistryMirror> ReadMirror(const ConfReader& r, const toml::table& table) {
  constexpr char kPath[] = "registry.mirror";
  RETURN_IF_ERROR(r.CheckKeys(table, kPath, {"location", "insecure"}));
  RegistryMirror mirror;
  RETURN_IF_ERROR(r.String(table, kPath, "location", mirror.location));
  RETURN_IF_ERROR(r.Bool(table, kPath, "insecure", mirror.insecure));
  if (mirror.location.empty()) return r.Error(table.source(), "a mirror needs a location");
  RETURN_IF_ERROR(CheckLocation(r, table, "location", mirror.location));
  return mirror;
}

absl::StatusOr<RegistryConfig> ReadRegistry(const ConfReader& r, const toml::table& table) {
  constexpr char kPath[] = "registry";
  RETURN_IF_ERROR(
      r.CheckKeys(table, kPath, {"prefix", "location", "insecure", "blocked", "mirror"}));
  RegistryConfig reg;
  RETURN_IF_ERROR(r.String(table, kPath, "prefix", reg.prefix));
  RETURN_IF_ERROR(r.String(table, kPath, "location", reg.location));
  RETURN_IF_ERROR(r.Bool(table, kPath, "insecure", reg.insecure));
  RETURN_IF_ERROR(r.Bool(table, kPath, "blocked", reg.blocked));
  ASSIGN_OR_RETURN(std::vector<const toml::table*> mirrors, r.Tables(table, kPath, "mirror"));
  for (const toml::table* mirror_table : mirrors) {
    ASSIGN_OR_RETURN(RegistryMirror mirror, ReadMirror(r, *mirror_table));
    reg.mirrors.push_back(std::move(mirror));
  }
  if (reg.prefix.empty() && reg.location.empty()) {
    return r.Error(table.source(), "a [[registry]] needs a prefix or a location");
  }
  if (reg.prefix.empty()) reg.prefix = reg.location;
  if (reg.location.empty()) reg.location = reg.prefix;
  RETURN_IF_ERROR(CheckLocation(r, table, "prefix", reg.prefix));
  RETURN_IF_ERROR(CheckLocation(r, table, "location", reg.location));
  return reg;
}

// Search entries are bare hosts: "quay" or "quay.io/ns" would quietly turn a
// short name into a different Docker Hub or namespaced image.
absl::Status CheckSearchRegistries(const ConfReader& r, const toml::table& document,
                                   const std::vector<std::string>& registries) {
  for (const std::string& registry : registries) {
    std::string probe = absl::StrCat(registry, "/x");
    absl::StatusOr<ImageReference> ref = ParseImageReference(probe);
    bool is_host = !absl::StrContains(registry, "/") && !IsShortName(probe) && ref.ok();
    if (!is_host) {
      const toml::node* node = document.get(kSearchKey);
      return r.Error(node != nullptr ? node->source() : document.source(),
                     absl::StrCat("key \"", kSearchKey, "\" has \"", registry,
                                  "\", which is not a registry host"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RegistriesConf> ReadDocument(const ConfReader& r, const toml::table& document) {
  RETURN_IF_ERROR(r.CheckKeys(document, "", {kSearchKey, "registry"}));
  RegistriesConf conf;
  RETURN_IF_ERROR(r.StringList(document, kSearchKey, conf.unqualified_search_registries));
  RETURN_IF_ERROR(CheckSearchRegistries(r, document, conf.unqualified_search_registries));
  ASSIGN_OR_RETURN(std::vector<const toml::table*> tables, r.Tables(document, "", "registry"));
  std::set<std::string> prefixes;
  for (const toml::table* table : tables) {
    ASSIGN_OR_RETURN(RegistryConfig reg, ReadRegistry(r, *table));
    if (!prefixes.insert(reg.prefix).second) {
      return r.Error(table->source(),
                     absl::StrCat("prefix \"", reg.prefix, "\" is configured twice"));
    }
    conf.registries.push_back(std::move(reg));
  }
  return conf;
}


// Every reference `user_input` may mean, before blocking is applied.
absl::StatusOr<std::vector<ImageReference>> AllCandidates(absl::string_view user_input,
                                                          const RegistriesConf& conf) {
  ASSIGN_OR_RETURN(ImageReference ref, ParseImageReference(user_input));
  if (!IsShortName(user_input)) return std::vector<ImageReference>{std::move(ref)};
  if (conf.unqualified_search_registries.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("short name \"", user_input,
                     "\" names no registry and registries.conf lists no ", kSearchKey));
  }
  std::vector<ImageReference> candidates;
  for (const std::string& registry : conf.unqualified_search_registries) {
    std::string qualified = absl::StrCat(registry, "/", user_input);
    // A conf built in code skips CheckSearchRegistries; "quay" would make
    // "quay/busybox" a Docker Hub name.
    if (IsShortName(qualified)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kSearchKey, ": \"", registry, "\" is not a registry host"));
    }
    ASSIGN_OR_RETURN(ImageReference candidate, ParseImageReference(qualified));
    candidates.push_back(std::move(candidate));
  }
  return candidates;
}

}  // namespace

const RegistryConfig* RegistriesConf::Find(absl::string_view name) const {
  const RegistryConfig* best = nullptr;
  for (const RegistryConfig& reg : registries) {
    absl::string_view prefix = reg.prefix;
    bool matches = absl::StartsWith(name, prefix) &&
                   (name.size() == prefix.size() || name[prefix.size()] == '/');
    if (matches && (best == nullptr || prefix.size() > best->prefix.size())) best = &reg;
  }
  return best;
}

absl::StatusOr<RegistriesConf> ParseRegistriesConf(absl::string_view text,
                                                   absl::string_view file_name) {
  toml::table document;
  try {
    document = toml::parse(std::string_view(text.data(), text.size()),
                           std::string_view(file_name.data(), file_name.size()));
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", error.source().begin.line, ": ",
                                                   std::string(error.description())));
  }
  return ReadDocument(ConfReader(file_name), document);
}

absl::StatusOr<RegistriesConf> LoadRegistriesConf(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxFileBytes);
  if (absl::IsNotFound(text.status())) return RegistriesConf();
  if (!text.ok()) return text.status();
  return ParseRegistriesConf(*text, path);
}

absl::StatusOr<std::vector<ImageReference>> ResolveCandidates(absl::string_view user_input,
                                                              const RegistriesConf& conf) {
  ASSIGN_OR_RETURN(std::vector<ImageReference> candidates, AllCandidates(user_input, conf));
  std::vector<ImageReference> allowed;
  std::string blocked_prefix;
  for (ImageReference& candidate : candidates) {
    const RegistryConfig* reg = conf.Find(candidate.Name());
    if (reg == nullptr || !reg->blocked) {
      allowed.push_back(std::move(candidate));
    } else if (blocked_prefix.empty()) {
      blocked_prefix = reg->prefix;
    }
  }
  if (allowed.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("registry ", blocked_prefix, " is blocked in registries.conf"));
  }
  return allowed;
}

}  // namespace ocid
