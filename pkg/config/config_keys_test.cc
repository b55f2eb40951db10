#include "pkg/config/config_keys.h"

#include <set>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/config/config.h"
#include "pkg/config/flags.h"
#include "toml++/toml.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

// Sets the key's field to a value that is no default and valid where the key
// is checked on its own; returns it as a flag would spell it.
std::string SetOther(const ConfigKey& key, Config& config) {
  return std::visit(
      [&](auto field) -> std::string {
        auto& out = config.*field;
        using Value = std::decay_t<decltype(out)>;
        if constexpr (std::is_same_v<Value, int64_t>) {
          out = 4242;
          return "4242";
        } else if constexpr (std::is_same_v<Value, bool>) {
          out = !(Config().*field);
          return out ? "true" : "false";
        } else if constexpr (std::is_same_v<Value, std::string>) {
          out = absl::StrCat("/other/", key.name);
          return out;
        } else {
          out = {absl::StrCat("/other/", key.name)};
          return out[0];
        }
      },
      key.field);
}

// Whether the key's field is the same in both.
bool SameField(const ConfigKey& key, const Config& a, const Config& b) {
  return std::visit([&](auto field) { return a.*field == b.*field; }, key.field);
}

const ConfigKey* KeyOfField(const void* address, const Config& config) {
  for (const ConfigKey& key : ConfigKeys()) {
    const void* field =
        std::visit([&](auto member) -> const void* { return &(config.*member); }, key.field);
    if (field == address) return &key;
  }
  return nullptr;
}

TEST(ConfigKeysTest, EveryConfigFieldIsInTheTable) {
  Config config;
  // This binding stops compiling when Config gains a field: add the field to
  // ConfigKeys() (or, like runtimes, handle it beside the table) and here.
  auto& [root, runroot, log_level, log_dir, listen, grpc_max_recv_msg_size, grpc_max_send_msg_size,
         stream_address, stream_port, stream_idle_timeout, stream_tls_cert, stream_tls_key,
         default_runtime, conmon, cgroup_manager,
         seccomp_profile, default_capabilities, apparmor_profile, selinux, default_sysctls, runtimes, signature_policy, signature_policy_dir, registries_conf, registries_d,
         global_auth_file, pinned_images, network_dir, plugin_dirs, default_network, enable_metrics,
         metrics_address, metrics_port, metrics_required] = config;
  const std::vector<const void*> listed = {&root,
                                           &runroot,
                                           &log_level,
                                           &log_dir,
                                           &listen,
                                           &grpc_max_recv_msg_size,
                                           &grpc_max_send_msg_size,
                                           &stream_address,
                                           &stream_port,
                                           &stream_idle_timeout,
                                           &stream_tls_cert,
                                           &stream_tls_key,
                                           &default_runtime,
                                           &conmon,
                                           &cgroup_manager,
                                           &seccomp_profile,
                                           &default_capabilities,
                                           &apparmor_profile,
                                           &selinux,
                                           &default_sysctls,
                                           &signature_policy,
                                           &signature_policy_dir,
                                           &registries_conf,
                                           &registries_d,
                                           &global_auth_file,
                                           &pinned_images,
                                           &network_dir,
                                           &plugin_dirs,
                                           &default_network,
                                           &enable_metrics,
                                           &metrics_address,
                                           &metrics_port,
                                           &metrics_required};
  std::set<const ConfigKey*> keys;
  for (const void* field : listed) {
    const ConfigKey* key = KeyOfField(field, config);
    ASSERT_NE(key, nullptr) << "a Config field is missing from ConfigKeys()";
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), ConfigKeys().size()) << "two keys share a field";
  EXPECT_EQ(KeyOfField(&runtimes, config), nullptr);
}

TEST(ConfigKeysTest, NamesAndFlagsAreUniqueAndEveryKeyIsHelped) {
  std::set<std::string> names, flags, tables_done;
  std::string table;
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_TRUE(names.insert(key.name).second) << "name " << key.name << " twice";
    EXPECT_TRUE(flags.insert(key.flag).second) << "flag " << key.flag << " twice";
    EXPECT_NE(std::string(key.flag), "") << key.Path();
    EXPECT_NE(std::string(key.help), "") << key.Path();
    EXPECT_THAT(key.help, ::testing::Not(HasSubstr("\n"))) << key.Path();
    // ToToml prints one [table] header per group; a table met again later
    // would be printed twice, which TOML refuses.
    if (key.table != table) {
      EXPECT_TRUE(tables_done.insert(key.table).second) << key.table << " is split";
      table = key.table;
    }
    if (key.check != ConfigKey::Check::kNone) {
      EXPECT_FALSE(std::holds_alternative<int64_t Config::*>(key.field))
          << key.Path() << ": a path check on an integer checks nothing";
    }
  }
  EXPECT_EQ(names.count(kRuntimesKey), 0u);
}

TEST(ConfigKeysTest, DefaultsArePrintedAtTheirPathWithTheirType) {
  const Config defaults;
  std::string printed = ToToml(defaults);
  toml::table document = toml::parse(printed);
  for (const ConfigKey& key : ConfigKeys()) {
    toml::node_view<toml::node> node = document.at_path(key.Path());
    ASSERT_TRUE(node) << key.Path() << " is not printed:\n" << printed;
    bool right_type = std::visit(
        [&](auto field) {
          using Value = std::decay_t<decltype(defaults.*field)>;
          if constexpr (std::is_same_v<Value, int64_t>) return node.is_integer();
          if constexpr (std::is_same_v<Value, bool>) return node.is_boolean();
          if constexpr (std::is_same_v<Value, std::string>) return node.is_string();
          return node.is_array();
        },
        key.field);
    EXPECT_TRUE(right_type) << key.Path();
    EXPECT_THAT(printed, HasSubstr(absl::StrCat("# ", key.help, "\n", key.name, " = ")));
  }
  EXPECT_TRUE(document.at_path("ocid.runtime.runtimes.runc.runtime_path").is_string());
}

TEST(ConfigKeysTest, EveryKeyRoundTripsThroughToTomlAndMergeToml) {
  for (const ConfigKey& key : ConfigKeys()) {
    Config changed;
    SetOther(key, changed);
    ASSERT_FALSE(changed == Config{}) << key.Path() << " is not compared";

    Config read_back;
    absl::Status merged = MergeToml(ToToml(changed), "printed", read_back);
    ASSERT_TRUE(merged.ok()) << key.Path() << ": " << merged;
    EXPECT_TRUE(SameField(key, read_back, changed)) << key.Path();
    EXPECT_TRUE(read_back == changed) << key.Path();
  }
}

TEST(ConfigKeysTest, EveryKeyRefusesAValueOfTheWrongType) {
  for (const ConfigKey& key : ConfigKeys()) {
    bool is_string = std::holds_alternative<std::string Config::*>(key.field);
    std::string text =
        absl::StrCat("[", key.table, "]\n\n", key.name, " = ", is_string ? "[1]" : "\"x\"", "\n");
    Config config;
    absl::Status status = MergeToml(text, "typed.conf", config);
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("typed.conf:3: key \"", key.Path(), "\" must be a")));
    EXPECT_TRUE(config == Config{});
  }
}

TEST(ConfigKeysTest, EveryKeyHasAFlagThatSetsIt) {
  std::string usage = FlagUsage();
  for (const ConfigKey& key : ConfigKeys()) {
    bool is_bool = std::holds_alternative<bool Config::*>(key.field);
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("--", key.flag, is_bool ? "  " : " VALUE")));
    EXPECT_THAT(usage, HasSubstr(key.help));

    Config expected;
    std::string value = SetOther(key, expected);
    auto command_line = ParseCommandLine({absl::StrCat("--", key.flag, "=", value)});
    ASSERT_TRUE(command_line.ok()) << command_line.status();
    Config config;
    ASSERT_TRUE(ApplyOverrides(*command_line, config).ok()) << key.flag;
    EXPECT_TRUE(SameField(key, config, expected)) << "--" << key.flag;
  }
}

TEST(ConfigKeysTest, PathKeysMustBeAbsolute) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.check == ConfigKey::Check::kNone) continue;
    Config config;
    std::visit(
        [&](auto field) {
          auto& out = config.*field;
          if constexpr (std::is_same_v<std::decay_t<decltype(out)>, std::string>) out = "rel";
          if constexpr (std::is_same_v<std::decay_t<decltype(out)>, std::vector<std::string>>) {
            out = {"/abs", "rel"};
          }
        },
        key.field);
    EXPECT_THAT(Validate(config).message(),
                HasSubstr(absl::StrCat(key.Path(), ": \"rel\" must be an absolute path")));
  }
  Config config;
  config.global_auth_file = "";
  EXPECT_TRUE(Validate(config).ok()) << "an empty auth file means none";
}

TEST(ConfigKeysTest, StatusJsonHasEveryKeyAndTheRuntimes) {
  Config config;
  config.runtimes["kata"] = {"/usr/bin/kata", "/run/kata", "oci"};
  nlohmann::json json = nlohmann::json::parse(ConfigAsJson(config));
  for (const ConfigKey& key : ConfigKeys()) {
    ASSERT_TRUE(json.contains(key.name)) << key.name;
    std::visit([&](auto field) { EXPECT_EQ(json[key.name], config.*field) << key.name; },
               key.field);
  }
  EXPECT_EQ(json.size(), ConfigKeys().size() + 1);
  EXPECT_EQ(json["runtimes"]["kata"]["runtime_path"], "/usr/bin/kata");
  EXPECT_EQ(json["runtimes"]["runc"]["runtime_root"], "/run/runc");
}

}  // namespace
}  // namespace ocid
