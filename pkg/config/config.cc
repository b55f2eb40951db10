#include "pkg/config/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "pkg/config/config_keys.h"
#include "toml++/toml.h"

namespace ocid {

bool RuntimeHandler::operator==(const RuntimeHandler& o) const {
  return path == o.path && root == o.root && type == o.type;
}

bool Config::operator==(const Config& o) const {
  for (const ConfigKey& key : ConfigKeys()) {
    bool same = std::visit([&](auto field) { return this->*field == o.*field; }, key.field);
    if (!same) return false;
  }
  return runtimes == o.runtimes;
}

namespace {

// The fields of one [ocid.runtime.runtimes.NAME] table.
constexpr std::pair<const char*, std::string RuntimeHandler::*> kHandlerFields[] = {
    {"runtime_path", &RuntimeHandler::path},
    {"runtime_root", &RuntimeHandler::root},
    {"runtime_type", &RuntimeHandler::type},
};

std::string RuntimesPath() { return absl::StrCat(kRuntimesTable, ".", kRuntimesKey); }

const ConfigKey* FindKey(absl::string_view path) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.Path() == path) return &key;
  }
  return nullptr;
}

// Whether `path` is a table that holds keys (or tables that do).
bool IsTable(absl::string_view path) {
  auto holds = [path](absl::string_view table) {
    return table == path || absl::StartsWith(table, absl::StrCat(path, "."));
  };
  if (holds(kRuntimesTable)) return true;
  for (const ConfigKey& key : ConfigKeys()) {
    if (holds(key.table)) return true;
  }
  return false;
}

std::string Join(const std::string& path, const toml::key& name) {
  return path.empty() ? std::string(name.str()) : absl::StrCat(path, ".", std::string(name.str()));
}

// Reads a document into a Config, refusing keys it does not know and values
// of the wrong type. Every error names file, line and key.
class TomlReader {
 public:
  TomlReader(absl::string_view file, Config& config) : file_(file), config_(config) {}

  // Reads the table at the dotted `path` ("" for the document).
  absl::Status ReadTable(const toml::node& node, const std::string& path) const {
    const toml::table* table = node.as_table();
    if (table == nullptr) return Error(node, path, "must be a table");
    for (const auto& [name, child] : *table) {
      std::string child_path = Join(path, name);
      if (const ConfigKey* key = FindKey(child_path)) {
        RETURN_IF_ERROR(std::visit(
            [&](auto field) { return Read(child, child_path, config_.*field); }, key->field));
      } else if (child_path == RuntimesPath()) {
        RETURN_IF_ERROR(ReadRuntimes(child, child_path));
      } else if (IsTable(child_path)) {
        RETURN_IF_ERROR(ReadTable(child, child_path));
      } else {
        return UnknownKey(name, child_path);
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const toml::node& node, const std::string& key,
                     absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", node.source().begin.line, ": key \"", key, "\" ", problem));
  }

  absl::Status UnknownKey(const toml::key& name, const std::string& path) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", name.source().begin.line, ": unknown key \"", path, "\""));
  }

  // One overload per type a ConfigKey::Field points at.
  absl::Status Read(const toml::node& node, const std::string& key, std::string& out) const {
    auto value = node.value<std::string>();
    if (!node.is_string() || !value) return Error(node, key, "must be a string");
    out = *value;
    return absl::OkStatus();
  }

  absl::Status Read(const toml::node& node, const std::string& key, int64_t& out) const {
    if (!node.is_integer()) return Error(node, key, "must be an integer");
    out = *node.value<int64_t>();
    return absl::OkStatus();
  }

  absl::Status Read(const toml::node& node, const std::string& key, bool& out) const {
    if (!node.is_boolean()) return Error(node, key, "must be a boolean (true or false)");
    out = *node.value<bool>();
    return absl::OkStatus();
  }

  absl::Status Read(const toml::node& node, const std::string& key,
                    std::vector<std::string>& out) const {
    const toml::array* array = node.as_array();
    if (array == nullptr) return Error(node, key, "must be an array of strings");
    std::vector<std::string> values;
    for (const toml::node& element : *array) {
      if (!element.is_string()) return Error(element, key, "must be an array of strings");
      values.push_back(*element.value<std::string>());
    }
    out = std::move(values);
    return absl::OkStatus();
  }

  // [ocid.runtime.runtimes.NAME] tables: any name, each a handler.
  absl::Status ReadRuntimes(const toml::node& node, const std::string& path) const {
    const toml::table* table = node.as_table();
    if (table == nullptr) return Error(node, path, "must be a table of runtimes");
    for (const auto& [name, child] : *table) {
      RuntimeHandler& handler = config_.runtimes[std::string(name.str())];
      std::string handler_path = Join(path, name);
      const toml::table* fields = child.as_table();
      if (fields == nullptr) return Error(child, handler_path, "must be a table");
      for (const auto& [field_name, value] : *fields) {
        std::string field_path = Join(handler_path, field_name);
        std::string* out = nullptr;
        for (const auto& [known, member] : kHandlerFields) {
          if (field_name.str() == known) out = &(handler.*member);
        }
        if (out == nullptr) return UnknownKey(field_name, field_path);
        RETURN_IF_ERROR(Read(value, field_path, *out));
      }
    }
    return absl::OkStatus();
  }

  std::string file_;
  Config& config_;
};

// Far above any real config file.
constexpr size_t kMaxConfigBytes = 1 << 20;

absl::Status MergeFile(const std::string& path, Config& config) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxConfigBytes));
  return MergeToml(text, path, config);
}

bool IsAbsolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

absl::Status RequireAbsolute(absl::string_view key, const std::string& path) {
  if (IsAbsolute(path)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(key, ": \"", path, "\" must be an absolute path"));
}

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        // TOML wants every control character but tab escaped, DEL included.
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
          out += absl::StrFormat("\\u%04x", ch);
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// One overload per type a ConfigKey::Field points at: the TOML value.
std::string Render(const std::string& value) { return Quote(value); }
std::string Render(int64_t value) { return absl::StrCat(value); }
std::string Render(bool value) { return value ? "true" : "false"; }
std::string Render(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const std::string& value : values) quoted.push_back(Quote(value));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

// A handler's name as a TOML key: bare when it may be, else quoted (a name
// with a dot or a space would otherwise read back as another table).
std::string TomlKey(absl::string_view name) {
  bool bare = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
  });
  return bare ? std::string(name) : Quote(name);
}

void AppendRuntimes(const Config& c, std::string& out) {
  for (const auto& [name, handler] : c.runtimes) {
    absl::StrAppend(&out, "\n[", RuntimesPath(), ".", TomlKey(name), "]\n");
    for (const auto& [field, member] : kHandlerFields) {
      absl::StrAppend(&out, field, " = ", Quote(handler.*member), "\n");
    }
  }
}

// The check a key asks for of its own value (of each element of a list).
absl::Status CheckValue(const ConfigKey& key, const Config& c) {
  if (key.check == ConfigKey::Check::kNone) return absl::OkStatus();
  std::vector<std::string> values;
  std::visit(
      [&](auto field) {
        using Value = std::decay_t<decltype(c.*field)>;
        if constexpr (std::is_same_v<Value, std::string>) values.push_back(c.*field);
        if constexpr (std::is_same_v<Value, std::vector<std::string>>) values = c.*field;
      },
      key.field);
  for (const std::string& value : values) {
    if (value.empty() && key.check == ConfigKey::Check::kAbsolutePathOrEmpty) continue;
    RETURN_IF_ERROR(RequireAbsolute(key.Path(), value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MergeToml(absl::string_view text, absl::string_view file_name, Config& config) {
  toml::table document;
  try {
    document = toml::parse(std::string_view(text.data(), text.size()),
                           std::string_view(file_name.data(), file_name.size()));
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", error.source().begin.line, ": ",
                                                   std::string(error.description())));
  }
  Config merged = config;  // all or nothing
  RETURN_IF_ERROR(TomlReader(file_name, merged).ReadTable(document, ""));
  config = std::move(merged);
  return absl::OkStatus();
}

absl::Status MergeFiles(const std::string& main_file, const std::string& dropin_dir,
                        Config& config) {
  struct stat st;
  if (::stat(main_file.c_str(), &st) == 0) {
    RETURN_IF_ERROR(MergeFile(main_file, config));
  } else if (errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat config file ", main_file));
  }

  absl::StatusOr<std::vector<std::string>> entries = ListDir(dropin_dir);
  if (absl::IsNotFound(entries.status())) return absl::OkStatus();
  if (!entries.ok()) return entries.status();
  std::vector<std::string> names;
  for (const std::string& name : *entries) {
    if (absl::EndsWith(name, ".conf") && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    RETURN_IF_ERROR(MergeFile(absl::StrCat(dropin_dir, "/", name), config));
  }
  return absl::OkStatus();
}

absl::Status Validate(const Config& c) {
  for (const ConfigKey& key : ConfigKeys()) RETURN_IF_ERROR(CheckValue(key, c));
  if (absl::Status level = ParseLogLevel(c.log_level).status(); !level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ocid.log_level: ", level.message()));
  }
  if (c.grpc_max_recv_msg_size <= 0 || c.grpc_max_send_msg_size <= 0 ||
      c.grpc_max_recv_msg_size > INT32_MAX || c.grpc_max_send_msg_size > INT32_MAX) {
    return absl::InvalidArgumentError(
        "ocid.api.grpc_max_recv_msg_size and grpc_max_send_msg_size must be between 1 and "
        "2147483647");
  }
  if (c.metrics_port < 1 || c.metrics_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("ocid.metrics.metrics_port: ", c.metrics_port, " is not a port (1-65535)"));
  }
  if (c.stream_port < 0 || c.stream_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("ocid.api.stream_port: ", c.stream_port, " is not a port (0-65535)"));
  }
  if (c.stream_tls_cert.empty() != c.stream_tls_key.empty()) {
    return absl::InvalidArgumentError(
        "ocid.api.stream_tls_cert and stream_tls_key must be set together");
  }
  if (c.stream_address.empty()) {
    return absl::InvalidArgumentError("ocid.api.stream_address is empty");
  }
  if (absl::Duration idle;
      !absl::ParseDuration(c.stream_idle_timeout, &idle) || idle <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("ocid.api.stream_idle_timeout: \"",
                                                   c.stream_idle_timeout,
                                                   "\" is not a positive duration (e.g. 4h)"));
  }
  if (c.metrics_address.empty()) {
    return absl::InvalidArgumentError("ocid.metrics.metrics_address is empty");
  }
  if (c.cgroup_manager != "cgroupfs" && c.cgroup_manager != "systemd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "ocid.runtime.cgroup_manager: \"", c.cgroup_manager, "\" is not cgroupfs or systemd"));
  }
  for (const auto& [name, handler] : c.runtimes) {
    std::string key = absl::StrCat(RuntimesPath(), ".", name);
    if (name.empty()) return absl::InvalidArgumentError(key + ": the name is empty");
    RETURN_IF_ERROR(RequireAbsolute(key + ".runtime_path", handler.path));
    RETURN_IF_ERROR(RequireAbsolute(key + ".runtime_root", handler.root));
    if (handler.type != "oci") {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ".runtime_type: \"", handler.type, "\" is not \"oci\""));
    }
  }
  if (c.runtimes.count(c.default_runtime) == 0) {
    std::vector<std::string> names;
    for (const auto& [name, handler] : c.runtimes) names.push_back(name);
    return absl::InvalidArgumentError(absl::StrCat(
        "ocid.runtime.default_runtime: \"", c.default_runtime,
        "\" is not a configured runtime (configured: ", absl::StrJoin(names, ", "), ")"));
  }
  if (c.plugin_dirs.empty()) {
    return absl::InvalidArgumentError("ocid.network.plugin_dirs: at least one dir is needed");
  }
  return absl::OkStatus();
}

std::string ToToml(const Config& c) {
  std::string out = "# ocid configuration (the effective values: defaults, files, flags).\n";
  std::string table;
  // The handlers' tables follow the keys of the table they sit in.
  auto end_table = [&] {
    if (table == kRuntimesTable) AppendRuntimes(c, out);
  };
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.table != table) {
      end_table();
      table = key.table;
      absl::StrAppend(&out, "\n[", table, "]\n");
    }
    std::string value = std::visit([&](auto field) { return Render(c.*field); }, key.field);
    absl::StrAppend(&out, "# ", key.help, "\n", key.name, " = ", value, "\n");
  }
  end_table();
  return out;
}

std::vector<std::string> ChangedKeys(const Config& a, const Config& b) {
  std::vector<std::string> changed;
  for (const ConfigKey& key : ConfigKeys()) {
    bool same = std::visit([&](auto field) { return a.*field == b.*field; }, key.field);
    if (!same) changed.push_back(key.Path());
  }
  Config runtimes_only_a, runtimes_only_b;
  runtimes_only_a.runtimes = a.runtimes;
  runtimes_only_b.runtimes = b.runtimes;
  if (!(runtimes_only_a == runtimes_only_b)) {
    changed.push_back(absl::StrCat(kRuntimesTable, ".", kRuntimesKey));
  }
  return changed;
}

std::string ConfigAsJson(const Config& c) {
  nlohmann::json json = nlohmann::json::object();
  for (const ConfigKey& key : ConfigKeys()) {
    std::visit([&](auto field) { json[key.name] = c.*field; }, key.field);
  }
  nlohmann::json runtimes = nlohmann::json::object();
  for (const auto& [name, handler] : c.runtimes) {
    for (const auto& [field, member] : kHandlerFields) runtimes[name][field] = handler.*member;
  }
  json[kRuntimesKey] = runtimes;
  return json.dump();
}

}  // namespace ocid
