#include "pkg/image/registries_conf.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
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
constexpr char kModeKey[] = "short-name-mode";
constexpr char kAliasesKey[] = "aliases";

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

absl::StatusOr<ShortNameMode> ReadMode(const ConfReader& r, const toml::table& document) {
  std::string mode;
  RETURN_IF_ERROR(r.String(document, "", kModeKey, mode));
  for (ShortNameMode known :
       {ShortNameMode::kEnforcing, ShortNameMode::kPermissive, ShortNameMode::kDisabled}) {
    if (mode == ShortNameModeName(known)) return known;
  }
  return r.KeyError(*document.get(kModeKey), kModeKey,
                    absl::StrCat("is \"", absl::CHexEscape(mode),
                                 "\"; it must be enforcing, permissive or disabled"));
}

// An alias maps a short name without tag or digest to a qualified
// repository without tag or digest; both as containers/image requires.
absl::Status ReadAliases(const ConfReader& r, const toml::table& document,
                         std::map<std::string, std::string>& aliases) {
  const toml::node* node = document.get(kAliasesKey);
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    return r.KeyError(*node, kAliasesKey, "must be a table ([aliases])");
  }
  for (const auto& [key, value] : *table) {
    std::string name(key.str());
    std::string path = absl::StrCat(kAliasesKey, ".\"", absl::CHexEscape(name), "\"");
    auto bad = [&](absl::string_view why) {
      return r.Error(key.source(), absl::StrCat("alias ", path, " ", why));
    };
    if (!IsShortName(name) || !ParseImageReference(name).ok() || TypedWithTagOrDigest(name)) {
      return bad("must be a short name without tag or digest (like \"busybox\")");
    }
    if (!value.is_string()) return bad("must be a string");
    std::string target = *value.value<std::string>();
    absl::StatusOr<ImageReference> ref = ParseImageReference(target);
    if (target.empty() || IsShortName(target) || !ref.ok() || TypedWithTagOrDigest(target)) {
      return bad(absl::StrCat("is \"", absl::CHexEscape(target),
                              "\"; it must be registry/repository without tag or digest"));
    }
    aliases[name] = ref->Name();
  }
  return absl::OkStatus();
}

// Applies the keys `document` sets over `conf`.
absl::Status ApplyDocument(const ConfReader& r, const toml::table& document,
                           RegistriesConf& conf) {
  RETURN_IF_ERROR(r.CheckKeys(document, "", {kSearchKey, kModeKey, kAliasesKey, "registry"}));
  if (document.contains(kSearchKey)) {
    RETURN_IF_ERROR(r.StringList(document, kSearchKey, conf.unqualified_search_registries));
    RETURN_IF_ERROR(CheckSearchRegistries(r, document, conf.unqualified_search_registries));
  }
  if (document.contains(kModeKey)) {
    ASSIGN_OR_RETURN(conf.short_name_mode, ReadMode(r, document));
  }
  if (document.contains(kAliasesKey)) RETURN_IF_ERROR(ReadAliases(r, document, conf.aliases));
  ASSIGN_OR_RETURN(std::vector<const toml::table*> tables, r.Tables(document, "", "registry"));
  std::set<std::string> prefixes;
  for (const toml::table* table : tables) {
    ASSIGN_OR_RETURN(RegistryConfig reg, ReadRegistry(r, *table));
    if (!prefixes.insert(reg.prefix).second) {
      return r.Error(table->source(),
                     absl::StrCat("prefix \"", reg.prefix, "\" is configured twice"));
    }
    // A later file's entry for a prefix replaces an earlier file's.
    auto same = std::find_if(conf.registries.begin(), conf.registries.end(),
                             [&](const RegistryConfig& old) { return old.prefix == reg.prefix; });
    if (same != conf.registries.end()) {
      *same = std::move(reg);
    } else {
      conf.registries.push_back(std::move(reg));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyText(absl::string_view text, absl::string_view file_name,
                       RegistriesConf& conf) {
  toml::table document;
  try {
    document = toml::parse(std::string_view(text.data(), text.size()),
                           std::string_view(file_name.data(), file_name.size()));
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", error.source().begin.line, ": ",
                                                   std::string(error.description())));
  }
  return ApplyDocument(ConfReader(file_name), document, conf);
}

// The search registries' candidates for the short name `user_input`,
// before blocking is applied.
absl::StatusOr<std::vector<ImageReference>> SearchCandidates(absl::string_view user_input,
                                                             const RegistriesConf& conf) {
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

// `alias` ("registry/repository") with the tag and digest of `user_input`.
absl::StatusOr<ImageReference> Aliased(absl::string_view user_input, const std::string& alias) {
  ASSIGN_OR_RETURN(ImageReference typed, ParseImageReference(user_input));
  ASSIGN_OR_RETURN(ImageReference target, ParseImageReference(alias));
  target.tag = typed.tag;
  target.digest = typed.digest;
  return target;
}

const std::string* FindAlias(const std::string& name, const std::map<std::string, std::string>& a) {
  auto it = a.find(name);
  return it == a.end() ? nullptr : &it->second;
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

absl::string_view ShortNameModeName(ShortNameMode mode) {
  switch (mode) {
    case ShortNameMode::kEnforcing:
      return "enforcing";
    case ShortNameMode::kPermissive:
      return "permissive";
    case ShortNameMode::kDisabled:
      return "disabled";
  }
  return "unknown";
}

absl::StatusOr<RegistriesConf> ParseRegistriesConf(absl::string_view text,
                                                   absl::string_view file_name) {
  RegistriesConf conf;
  RETURN_IF_ERROR(ApplyText(text, file_name, conf));
  return conf;
}

absl::Status MergeRegistriesConf(absl::string_view text, absl::string_view file_name,
                                 RegistriesConf& conf) {
  RegistriesConf merged = conf;
  RETURN_IF_ERROR(ApplyText(text, file_name, merged));
  conf = std::move(merged);
  return absl::OkStatus();
}

std::string RegistriesConfDropInDir(const std::string& path) { return path + ".d"; }

absl::StatusOr<std::vector<RegistriesConfFile>> ReadRegistriesConfFiles(const std::string& path) {
  std::vector<RegistriesConfFile> files;
  absl::StatusOr<std::string> text = ReadFileToString(path, kMaxFileBytes);
  if (text.ok()) {
    files.push_back({path, std::move(*text), false});
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  const std::string dir = RegistriesConfDropInDir(path);
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (absl::IsNotFound(names.status())) return files;
  if (!names.ok()) return names.status();
  std::sort(names->begin(), names->end());
  for (const std::string& name : *names) {
    if (!absl::EndsWith(name, ".conf")) continue;
    std::string file = absl::StrCat(dir, "/", name);
    ASSIGN_OR_RETURN(std::string drop_in, ReadFileToString(file, kMaxFileBytes));
    files.push_back({file, std::move(drop_in), true});
  }
  return files;
}

absl::StatusOr<RegistriesConf> ParseRegistriesConfFiles(
    const std::vector<RegistriesConfFile>& files) {
  RegistriesConf conf;
  for (const RegistriesConfFile& file : files) {
    if (file.drop_in) {
      RETURN_IF_ERROR(MergeRegistriesConf(file.text, file.path, conf));
    } else {
      RETURN_IF_ERROR(ApplyText(file.text, file.path, conf));
    }
  }
  return conf;
}

absl::StatusOr<RegistriesConf> LoadRegistriesConf(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<RegistriesConfFile> files, ReadRegistriesConfFiles(path));
  return ParseRegistriesConfFiles(files);
}

absl::StatusOr<ResolvedName> ResolveCandidates(
    absl::string_view user_input, const RegistriesConf& conf,
    const std::map<std::string, std::string>& cached_aliases) {
  ASSIGN_OR_RETURN(ImageReference typed, ParseImageReference(user_input));
  ResolvedName resolved;
  std::vector<ImageReference> candidates;
  bool searched = false;
  if (!IsShortName(user_input)) {
    candidates.push_back(std::move(typed));
  } else {
    std::string name = RepositoryAsTyped(user_input);
    const std::string* alias = FindAlias(name, conf.aliases);
    if (alias == nullptr) alias = FindAlias(name, cached_aliases);
    if (alias != nullptr) {
      ASSIGN_OR_RETURN(ImageReference target, Aliased(user_input, *alias));
      candidates.push_back(std::move(target));
    } else {
      ASSIGN_OR_RETURN(candidates, SearchCandidates(user_input, conf));
      searched = true;
      if (conf.short_name_mode != ShortNameMode::kDisabled) resolved.record_alias = name;
    }
  }
  std::string blocked_prefix;
  for (ImageReference& candidate : candidates) {
    const RegistryConfig* reg = conf.Find(candidate.Name());
    if (reg == nullptr || !reg->blocked) {
      resolved.candidates.push_back(std::move(candidate));
    } else if (blocked_prefix.empty()) {
      blocked_prefix = reg->prefix;
    }
  }
  if (resolved.candidates.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("registry ", blocked_prefix, " is blocked in registries.conf"));
  }
  // Enforcing would ask the user on a TTY; ocid has none to ask on.
  if (searched && conf.short_name_mode == ShortNameMode::kEnforcing &&
      resolved.candidates.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "short name \"", user_input, "\" is ambiguous: it may be ",
        absl::StrJoin(resolved.candidates, ", ",
                      [](std::string* out, const ImageReference& ref) {
                        out->append(ref.String());
                      }),
        " (", kModeKey, " is enforcing and there is no TTY to choose on); use a fully "
        "qualified name or add an alias to registries.conf's [", kAliasesKey, "]"));
  }
  return resolved;
}

}  // namespace ocid
