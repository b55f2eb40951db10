#include "pkg/config/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "pkg/base/fs.h"
#include "pkg/base/log.h"
#include "pkg/base/status_macros.h"
#include "toml++/toml.h"

namespace ocid {

bool RuntimeHandler::operator==(const RuntimeHandler& o) const {
  return path == o.path && root == o.root && type == o.type;
}

bool Config::operator==(const Config& o) const {
  return root == o.root && runroot == o.runroot && log_level == o.log_level &&
         log_dir == o.log_dir &&
         listen == o.listen && grpc_max_recv_msg_size == o.grpc_max_recv_msg_size &&
         grpc_max_send_msg_size == o.grpc_max_send_msg_size &&
         default_runtime == o.default_runtime && conmon == o.conmon &&
         cgroup_manager == o.cgroup_manager && runtimes == o.runtimes &&
         signature_policy == o.signature_policy && registries_conf == o.registries_conf &&
         global_auth_file == o.global_auth_file &&
         network_dir == o.network_dir && plugin_dirs == o.plugin_dirs &&
         default_network == o.default_network;
}

namespace {

// Reads one table of the document into a Config, refusing keys it does not
// know and values of the wrong type. Every error names file, line and key.
class TomlReader {
 public:
  // Reads the node for `key` (a dotted path); `line` is where it stands.
  using Field = std::function<absl::Status(const toml::node&, const std::string& key)>;
  using Fields = std::map<std::string, Field>;

  explicit TomlReader(absl::string_view file) : file_(file) {}

  absl::Status Error(const toml::node& node, const std::string& key,
                     absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", node.source().begin.line,
                                                   ": key \"", key, "\" ", problem));
  }

  absl::Status ReadTable(const toml::node& node, const std::string& key,
                         const Fields& fields) const {
    const toml::table* table = node.as_table();
    if (table == nullptr) return Error(node, key, "must be a table");
    for (const auto& [name, child] : *table) {
      std::string child_key = key.empty() ? std::string(name.str())
                                          : absl::StrCat(key, ".", std::string(name.str()));
      auto field = fields.find(std::string(name.str()));
      if (field == fields.end()) {
        return absl::InvalidArgumentError(absl::StrCat(file_, ":", name.source().begin.line,
                                                       ": unknown key \"", child_key, "\""));
      }
      RETURN_IF_ERROR(field->second(child, child_key));
    }
    return absl::OkStatus();
  }

  Field Table(Fields fields) const {
    return [this, fields = std::move(fields)](const toml::node& node, const std::string& key) {
      return ReadTable(node, key, fields);
    };
  }

  Field String(std::string& out) const {
    return [this, &out](const toml::node& node, const std::string& key) {
      auto value = node.value<std::string>();
      if (!node.is_string() || !value) return Error(node, key, "must be a string");
      out = *value;
      return absl::OkStatus();
    };
  }

  Field Integer(int64_t& out) const {
    return [this, &out](const toml::node& node, const std::string& key) {
      if (!node.is_integer()) return Error(node, key, "must be an integer");
      out = *node.value<int64_t>();
      return absl::OkStatus();
    };
  }

  Field StringList(std::vector<std::string>& out) const {
    return [this, &out](const toml::node& node, const std::string& key) {
      const toml::array* array = node.as_array();
      if (array == nullptr) return Error(node, key, "must be an array of strings");
      std::vector<std::string> values;
      for (const toml::node& element : *array) {
        if (!element.is_string()) return Error(element, key, "must be an array of strings");
        values.push_back(*element.value<std::string>());
      }
      out = std::move(values);
      return absl::OkStatus();
    };
  }

  // [ocid.runtime.runtimes.NAME] tables: any name, each a handler.
  Field Runtimes(std::map<std::string, RuntimeHandler>& out) const {
    return [this, &out](const toml::node& node, const std::string& key) {
      const toml::table* table = node.as_table();
      if (table == nullptr) return Error(node, key, "must be a table of runtimes");
      for (const auto& [name, child] : *table) {
        RuntimeHandler& handler = out[std::string(name.str())];
        RETURN_IF_ERROR(ReadTable(child, absl::StrCat(key, ".", std::string(name.str())),
                                  {{"runtime_path", String(handler.path)},
                                   {"runtime_root", String(handler.root)},
                                   {"runtime_type", String(handler.type)}}));
      }
      return absl::OkStatus();
    };
  }

 private:
  std::string file_;
};

absl::Status ReadDocument(const toml::table& document, absl::string_view file, Config& c) {
  TomlReader r(file);
  return r.ReadTable(
      document, "",
      {{"ocid", r.Table({
                    {"root", r.String(c.root)},
                    {"runroot", r.String(c.runroot)},
                    {"log_level", r.String(c.log_level)},
                    {"log_dir", r.String(c.log_dir)},
                    {"api", r.Table({
                                {"listen", r.String(c.listen)},
                                {"grpc_max_recv_msg_size", r.Integer(c.grpc_max_recv_msg_size)},
                                {"grpc_max_send_msg_size", r.Integer(c.grpc_max_send_msg_size)},
                            })},
                    {"runtime", r.Table({
                                    {"default_runtime", r.String(c.default_runtime)},
                                    {"conmon", r.String(c.conmon)},
                                    {"cgroup_manager", r.String(c.cgroup_manager)},
                                    {"runtimes", r.Runtimes(c.runtimes)},
                                })},
                    {"image", r.Table({
                                  {"signature_policy", r.String(c.signature_policy)},
                                  {"registries_conf", r.String(c.registries_conf)},
                                  {"global_auth_file", r.String(c.global_auth_file)},
                              })},
                    {"network", r.Table({
                                    {"network_dir", r.String(c.network_dir)},
                                    {"plugin_dirs", r.StringList(c.plugin_dirs)},
                                    {"default_network", r.String(c.default_network)},
                                })},
                })}});
}

// Far above any real config file.
constexpr size_t kMaxConfigBytes = 1 << 20;

absl::Status MergeFile(const std::string& path, Config& config) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxConfigBytes));
  return MergeToml(text, path, config);
}

bool IsAbsolute(const std::string& path) { return !path.empty() && path[0] == '/'; }

absl::Status RequireAbsolute(absl::string_view key, const std::string& path) {
  if (IsAbsolute(path)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": \"", path, "\" must be an absolute path"));
}

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          out += absl::StrFormat("\\u%04x", ch);
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace

absl::Status MergeToml(absl::string_view text, absl::string_view file_name, Config& config) {
  toml::table document;
  try {
    document = toml::parse(std::string_view(text.data(), text.size()),
                           std::string_view(file_name.data(), file_name.size()));
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", error.source().begin.line,
                                                   ": ", std::string(error.description())));
  }
  Config merged = config;  // all or nothing
  RETURN_IF_ERROR(ReadDocument(document, file_name, merged));
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
  RETURN_IF_ERROR(RequireAbsolute("ocid.root", c.root));
  RETURN_IF_ERROR(RequireAbsolute("ocid.runroot", c.runroot));
  if (absl::Status level = ParseLogLevel(c.log_level).status(); !level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ocid.log_level: ", level.message()));
  }
  RETURN_IF_ERROR(RequireAbsolute("ocid.log_dir", c.log_dir));
  RETURN_IF_ERROR(RequireAbsolute("ocid.api.listen", c.listen));
  if (c.grpc_max_recv_msg_size <= 0 || c.grpc_max_send_msg_size <= 0 ||
      c.grpc_max_recv_msg_size > INT32_MAX || c.grpc_max_send_msg_size > INT32_MAX) {
    return absl::InvalidArgumentError(
        "ocid.api.grpc_max_recv_msg_size and grpc_max_send_msg_size must be between 1 and "
        "2147483647");
  }
  RETURN_IF_ERROR(RequireAbsolute("ocid.runtime.conmon", c.conmon));
  if (c.cgroup_manager != "cgroupfs" && c.cgroup_manager != "systemd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "ocid.runtime.cgroup_manager: \"", c.cgroup_manager, "\" is not cgroupfs or systemd"));
  }
  for (const auto& [name, handler] : c.runtimes) {
    std::string key = absl::StrCat("ocid.runtime.runtimes.", name);
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
  RETURN_IF_ERROR(RequireAbsolute("ocid.image.signature_policy", c.signature_policy));
  RETURN_IF_ERROR(RequireAbsolute("ocid.image.registries_conf", c.registries_conf));
  if (!c.global_auth_file.empty()) {
    RETURN_IF_ERROR(RequireAbsolute("ocid.image.global_auth_file", c.global_auth_file));
  }
  RETURN_IF_ERROR(RequireAbsolute("ocid.network.network_dir", c.network_dir));
  if (c.plugin_dirs.empty()) {
    return absl::InvalidArgumentError("ocid.network.plugin_dirs: at least one dir is needed");
  }
  for (const std::string& dir : c.plugin_dirs) {
    RETURN_IF_ERROR(RequireAbsolute("ocid.network.plugin_dirs", dir));
  }
  return absl::OkStatus();
}

std::string ToToml(const Config& c) {
  std::vector<std::string> dirs;
  for (const std::string& dir : c.plugin_dirs) dirs.push_back(Quote(dir));
  std::string out = absl::StrCat(
      "# ocid configuration (the effective values: defaults, files, flags).\n\n",
      "[ocid]\n",
      "# Persistent state: images, layers, container and pod records.\n",
      "root = ", Quote(c.root), "\n",
      "# Volatile state: sockets, exit files, namespace pins, mounts.\n",
      "runroot = ", Quote(c.runroot), "\n",
      "# fatal, error, warn, info, debug or trace.\n",
      "log_level = ", Quote(c.log_level), "\n",
      "# Container logs of pods that name no log_directory.\n",
      "log_dir = ", Quote(c.log_dir), "\n\n",
      "[ocid.api]\n",
      "listen = ", Quote(c.listen), "\n",
      "grpc_max_recv_msg_size = ", c.grpc_max_recv_msg_size, "\n",
      "grpc_max_send_msg_size = ", c.grpc_max_send_msg_size, "\n\n",
      "[ocid.runtime]\n",
      "# The handler used when a pod names none.\n",
      "default_runtime = ", Quote(c.default_runtime), "\n",
      "conmon = ", Quote(c.conmon), "\n",
      "# cgroupfs or systemd.\n",
      "cgroup_manager = ", Quote(c.cgroup_manager), "\n");
  for (const auto& [name, handler] : c.runtimes) {
    absl::StrAppend(&out, "\n[ocid.runtime.runtimes.", name, "]\n",
                    "runtime_path = ", Quote(handler.path), "\n",
                    "runtime_root = ", Quote(handler.root), "\n",
                    "runtime_type = ", Quote(handler.type), "\n");
  }
  absl::StrAppend(&out, "\n[ocid.image]\n",
                  "signature_policy = ", Quote(c.signature_policy), "\n",
                  "registries_conf = ", Quote(c.registries_conf), "\n",
                  "# Credentials for pulls (containers auth.json); empty for none.\n",
                  "global_auth_file = ", Quote(c.global_auth_file), "\n\n",
                  "[ocid.network]\n",
                  "network_dir = ", Quote(c.network_dir), "\n",
                  "plugin_dirs = [", absl::StrJoin(dirs, ", "), "]\n",
                  "# Empty: the lexically first valid network in network_dir.\n",
                  "default_network = ", Quote(c.default_network), "\n");
  return out;
}

}  // namespace ocid
