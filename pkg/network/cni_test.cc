#include "pkg/network/cni.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string MakeTempDir() {
  std::string pattern = absl::StrCat(getenv("TEST_TMPDIR"), "/cni.XXXXXX");
  return mkdtemp(pattern.data());
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0644) {
  ASSERT_TRUE(WriteFileAtomically(path, text, mode).ok()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Polls `condition` every 20 ms for up to `timeout`.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// A fake plugin logs each call's stdin and env as LOG/SEQ-COMMAND-NAME.*,
// then does what files LOG/NAME.COMMAND.{sleep,stderr,error,out} say.
constexpr char kFakePlugin[] = R"sh(#!/bin/sh
log=@LOG@
n=$(( $(cat "$log/seq" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$log/seq"
cat > "$log/$n-$CNI_COMMAND-@NAME@.stdin"
env > "$log/$n-$CNI_COMMAND-@NAME@.env"
do="$log/@NAME@.$CNI_COMMAND"
if [ -f "$do.sleep" ]; then sleep "$(cat "$do.sleep")"; fi
if [ -f "$do.stderr" ]; then cat "$do.stderr" >&2; exit 2; fi
if [ -f "$do.error" ]; then cat "$do.error"; exit 1; fi
if [ -f "$do.out" ]; then cat "$do.out"; fi
exit 0
)sh";

struct Call {
  int seq = 0;
  std::string command, plugin;
  json stdin_json;
  std::map<std::string, std::string> env;
};

constexpr char kResultA[] =
    R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],)"
    R"("ips":[{"address":"fd00::5/64","interface":0},{"address":"10.88.0.5/16","interface":0}]})";
constexpr char kResultB[] =
    R"({"cniVersion":"1.0.0","ips":[{"address":"fd00::5/64"},{"address":"10.88.0.5/16"}],)"
    R"("dns":{"nameservers":["10.96.0.10"]}})";

class CniFakePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    conf_ = root_ + "/net.d";
    bin_ = root_ + "/bin";
    log_ = root_ + "/log";
    for (const std::string& dir : {conf_, bin_, log_}) ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    WriteFile(root_ + "/netns", "");
    WritePlugin("fakea");
    WritePlugin("fakeb");
  }
  void TearDown() override { RemoveAll(root_).IgnoreError(); }

  void WritePlugin(const std::string& name) {
    WriteFile(bin_ + "/" + name,
              absl::StrReplaceAll(kFakePlugin, {{"@LOG@", log_}, {"@NAME@", name}}), 0755);
  }
  void Respond(const std::string& plugin, const std::string& command, const std::string& what,
               const std::string& text) {
    WriteFile(absl::StrCat(log_, "/", plugin, ".", command, ".", what), text);
  }
  void WriteConflist(const std::string& file, const std::string& name, const std::string& version,
                     const std::string& plugins) {
    WriteFile(conf_ + "/" + file, absl::StrCat(R"({"cniVersion":")", version, R"(","name":")", name,
                                               R"(","plugins":)", plugins, "}"));
  }
  // fakea declares portMappings; fakeb bandwidth and ipRanges, and dns off.
  void WriteTwoPluginList(const std::string& version = "1.0.0") {
    WriteConflist("10-test.conflist", "testnet", version,
                  R"([{"type":"fakea","capabilities":{"portMappings":true}},
                      {"type":"fakeb","capabilities":{"bandwidth":true,"ipRanges":true,
                                                      "dns":false}}])");
    Respond("fakea", "ADD", "out", kResultA);
    Respond("fakeb", "ADD", "out", kResultB);
  }

  std::unique_ptr<CniManager> StartManager(absl::Duration timeout = absl::Seconds(20)) {
    CniOptions options;
    options.config_dir = conf_;
    options.plugin_dirs = {root_ + "/nothing-here", bin_};
    options.cache_dir = root_ + "/cache";
    options.plugin_timeout = timeout;
    absl::StatusOr<std::unique_ptr<CniManager>> manager = CniManager::Start(options);
    EXPECT_TRUE(manager.ok()) << manager.status();
    return manager.ok() ? *std::move(manager) : nullptr;
  }

  PodNetworkRequest Request() {
    PodNetworkRequest request;
    request.pod_id = "pod1";
    request.netns_path = root_ + "/netns";
    request.pod_name = "web";
    request.pod_namespace = "prod";
    request.pod_uid = "uid-1";
    request.port_mappings = {{8080, 80, "TCP", "127.0.0.1"}};
    request.ingress_bps = 1000000;
    request.dns_servers = {"10.96.0.10"};
    return request;
  }

  std::vector<Call> Calls() {
    std::vector<Call> calls;
    for (int seq = 1;; ++seq) {
      bool found = false;
      for (const char* command : {"ADD", "DEL", "CHECK"}) {
        for (const char* plugin : {"fakea", "fakeb"}) {
          std::string base = absl::StrCat(log_, "/", seq, "-", command, "-", plugin);
          if (!Exists(base + ".stdin")) continue;
          Call call{seq, command, plugin, json::parse(ReadFile(base + ".stdin"), nullptr, false)};
          for (absl::string_view line : absl::StrSplit(ReadFile(base + ".env"), '\n')) {
            std::pair<std::string, std::string> entry =
                absl::StrSplit(line, absl::MaxSplits('=', 1));
            call.env[entry.first] = entry.second;
          }
          calls.push_back(std::move(call));
          found = true;
        }
      }
      if (!found) return calls;
    }
  }

  std::string root_, conf_, bin_, log_;
};

std::vector<std::string> Summary(const std::vector<Call>& calls) {
  std::vector<std::string> summary;
  for (const Call& call : calls) summary.push_back(call.command + " " + call.plugin);
  return summary;
}

TEST_F(CniFakePluginTest, AddChainsResultsAndPassesOnlyDeclaredCapabilities) {
  WriteTwoPluginList();
  auto manager = StartManager();
  ASSERT_TRUE(manager->Ready().ok()) << manager->Ready();
  manager->SetPodCidr("10.88.0.0/16");

  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->ips, ElementsAre("10.88.0.5", "fd00::5"));
  EXPECT_EQ(json::parse(result->result_json), json::parse(kResultB));

  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "ADD fakeb"));
  EXPECT_EQ(calls[0].stdin_json, json::parse(R"({
      "type":"fakea","capabilities":{"portMappings":true},"name":"testnet","cniVersion":"1.0.0",
      "runtimeConfig":{"portMappings":[
          {"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":"127.0.0.1"}]}})"));
  EXPECT_EQ(calls[1].stdin_json["prevResult"], json::parse(kResultA));
  EXPECT_EQ(calls[1].stdin_json["runtimeConfig"], json::parse(R"({
      "bandwidth":{"ingressRate":1000000,"ingressBurst":2147483647},
      "ipRanges":[[{"subnet":"10.88.0.0/16"}]]})"));

  const std::map<std::string, std::string>& env = calls[0].env;
  EXPECT_EQ(env.at("CNI_COMMAND"), "ADD");
  EXPECT_EQ(env.at("CNI_CONTAINERID"), "pod1");
  EXPECT_EQ(env.at("CNI_NETNS"), root_ + "/netns");
  EXPECT_EQ(env.at("CNI_IFNAME"), "eth0");
  EXPECT_EQ(env.at("CNI_PATH"), absl::StrCat(root_, "/nothing-here:", bin_));
  EXPECT_EQ(env.at("CNI_ARGS"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web;"
            "K8S_POD_INFRA_CONTAINER_ID=pod1;K8S_POD_UID=uid-1");
  EXPECT_FALSE(env.at("PATH").empty());

  json cache = json::parse(ReadFile(root_ + "/cache/pod1-eth0.json"));
  EXPECT_EQ(cache["network"], "testnet");
  EXPECT_EQ(cache["cniVersion"], "1.0.0");
  EXPECT_EQ(cache["result"], json::parse(kResultB));
  EXPECT_EQ(cache["config"]["plugins"].size(), 2u);
  absl::StatusOr<PodNetworkResult> cached = manager->CachedResult("pod1");
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_THAT(cached->ips, ElementsAre("10.88.0.5", "fd00::5"));
}

TEST_F(CniFakePluginTest, PortMappingsWithoutAHostPortAreNotHandedToPlugins) {
  WriteTwoPluginList();
  auto manager = StartManager();
  PodNetworkRequest request = Request();
  request.port_mappings = {{0, 80, "tcp", ""}, {8080, 81, "udp", ""}};
  ASSERT_TRUE(manager->SetUp(request).ok());
  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "ADD fakeb"));
  EXPECT_EQ(calls[0].stdin_json["runtimeConfig"], json::parse(R"({"portMappings":[
      {"hostPort":8080,"containerPort":81,"protocol":"udp"}]})"));
  ASSERT_TRUE(manager->TearDown(request).ok());

  // Only container ports: no portMappings at all, as if none were given.
  request.pod_id = "pod2";
  request.port_mappings = {{0, 80, "tcp", ""}, {0, 53, "udp", ""}};
  ASSERT_TRUE(manager->SetUp(request).ok());
  calls = Calls();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls[4].plugin, "fakea");
  EXPECT_FALSE(calls[4].stdin_json.contains("runtimeConfig")) << calls[4].stdin_json;
}

TEST_F(CniFakePluginTest, FailedAddReportsPluginErrorAndDeletesInReverse) {
  WriteTwoPluginList();
  Respond("fakeb", "ADD", "error",
          R"({"cniVersion":"1.0.0","code":7,"msg":"no bridge","details":"ocid0 is missing"})");
  auto manager = StartManager();
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "CNI plugin fakeb failed (code 7): no bridge: ocid0 is missing");

  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "ADD fakeb", "DEL fakeb", "DEL fakea"));
  EXPECT_EQ(calls[2].stdin_json["prevResult"], json::parse(kResultA));  // what was known
  EXPECT_EQ(calls[3].env.at("CNI_NETNS"), root_ + "/netns");
  EXPECT_FALSE(Exists(root_ + "/cache/pod1-eth0.json"));
  EXPECT_FALSE(manager->CachedResult("pod1").ok());
}

TEST_F(CniFakePluginTest, PluginWithoutErrorJsonReportsExitStatusAndStderr) {
  WriteTwoPluginList();
  Respond("fakea", "ADD", "stderr", "something broke\n");
  auto manager = StartManager();
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  EXPECT_EQ(result.status().message(), "CNI plugin fakea failed (exit status 2): something broke");
  EXPECT_THAT(Summary(Calls()), ElementsAre("ADD fakea", "DEL fakeb", "DEL fakea"));
}

TEST_F(CniFakePluginTest, SlowPluginIsKilledAtTheTimeout) {
  WriteTwoPluginList();
  Respond("fakeb", "ADD", "sleep", "30");
  auto manager = StartManager(absl::Milliseconds(300));
  absl::Time start = absl::Now();
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(result.status().message(), "CNI plugin fakeb timed out after 0.3s");
  EXPECT_THAT(Summary(Calls()), ElementsAre("ADD fakea", "ADD fakeb", "DEL fakeb", "DEL fakea"));
}

TEST_F(CniFakePluginTest, InvalidResultFailsTheAdd) {
  WriteTwoPluginList();
  Respond("fakea", "ADD", "out", "this is not JSON");
  auto manager = StartManager();
  EXPECT_THAT(manager->SetUp(Request()).status().message(),
              HasSubstr("CNI plugin fakea printed an invalid result"));
}

TEST_F(CniFakePluginTest, TearDownAfterRestartUsesTheCachedConfigAndResult) {
  WriteTwoPluginList();
  auto manager = StartManager();
  ASSERT_TRUE(manager->SetUp(Request()).ok());
  manager.reset();

  // The config changes while ocid is down; DEL must still use the old one.
  ASSERT_TRUE(RemoveAll(conf_ + "/10-test.conflist").ok());
  WriteConflist("20-other.conflist", "other", "1.0.0", R"([{"type":"fakeb"}])");
  manager = StartManager();
  PodNetworkRequest request = Request();
  request.netns_path = root_ + "/netns-gone";
  request.port_mappings.clear();
  ASSERT_TRUE(manager->TearDown(request).ok());

  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "ADD fakeb", "DEL fakeb", "DEL fakea"));
  for (int i : {2, 3}) {
    EXPECT_EQ(calls[i].stdin_json["name"], "testnet");
    EXPECT_EQ(calls[i].stdin_json["prevResult"], json::parse(kResultB));
    EXPECT_EQ(calls[i].env.at("CNI_NETNS"), "");
  }
  EXPECT_EQ(calls[3].stdin_json["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_FALSE(Exists(root_ + "/cache/pod1-eth0.json"));

  // Again: no cache now, so DEL runs with the current network, no prevResult.
  ASSERT_TRUE(manager->TearDown(request).ok());
  calls = Calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(Summary(calls)[4], "DEL fakeb");
  EXPECT_EQ(calls[4].stdin_json["name"], "other");
  EXPECT_FALSE(calls[4].stdin_json.contains("prevResult"));
}

TEST_F(CniFakePluginTest, FailedDelKeepsTheCacheForARetry) {
  WriteTwoPluginList();
  auto manager = StartManager();
  ASSERT_TRUE(manager->SetUp(Request()).ok());
  Respond("fakea", "DEL", "error", R"({"code":11,"msg":"try again"})");
  EXPECT_EQ(manager->TearDown(Request()).message(), "CNI plugin fakea failed (code 11): try again");
  EXPECT_TRUE(Exists(root_ + "/cache/pod1-eth0.json"));
  ASSERT_TRUE(RemoveAll(log_ + "/fakea.DEL.error").ok());
  EXPECT_TRUE(manager->TearDown(Request()).ok());
  EXPECT_FALSE(Exists(root_ + "/cache/pod1-eth0.json"));
}

TEST_F(CniFakePluginTest, CheckPassesTheCachedResultFrom040On) {
  WriteTwoPluginList();
  auto manager = StartManager();
  EXPECT_EQ(manager->Check(Request()).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(manager->SetUp(Request()).ok());
  ASSERT_TRUE(manager->Check(Request()).ok());
  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "ADD fakeb", "CHECK fakea", "CHECK fakeb"));
  EXPECT_EQ(calls[2].stdin_json["prevResult"], json::parse(kResultB));

  Respond("fakeb", "CHECK", "error", R"({"code":999,"msg":"veth is gone"})");
  EXPECT_THAT(manager->Check(Request()).message(), HasSubstr("(code 999): veth is gone"));
}

TEST_F(CniFakePluginTest, OldVersionsSkipCheckAndParseLegacyResults) {
  WriteFile(conf_ + "/10-old.conf", R"({"cniVersion":"0.2.0","name":"old","type":"fakea"})");
  Respond("fakea", "ADD", "out",
          R"({"cniVersion":"0.2.0","ip6":{"ip":"fd00::7/64"},"ip4":{"ip":"10.22.0.7/24"}})");
  auto manager = StartManager();
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->ips, ElementsAre("10.22.0.7", "fd00::7"));
  ASSERT_TRUE(manager->Check(Request()).ok());
  ASSERT_TRUE(manager->TearDown(Request()).ok());
  std::vector<Call> calls = Calls();
  ASSERT_THAT(Summary(calls), ElementsAre("ADD fakea", "DEL fakea"));
  EXPECT_EQ(calls[0].stdin_json["name"], "old");
  EXPECT_FALSE(calls[1].stdin_json.contains("prevResult"));  // DEL has none before 0.4.0
}

TEST_F(CniFakePluginTest, ReadyNamesTheDirSkippedFilesAndMissingPlugins) {
  ASSERT_TRUE(RemoveAll(conf_).ok());
  auto manager = StartManager();
  absl::Status ready = manager->Ready();
  EXPECT_EQ(ready.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ready.message(), HasSubstr(conf_));

  // The dir appears later (after the watcher found it missing): it notices.
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_EQ(::mkdir(conf_.c_str(), 0755), 0);
  WriteFile(conf_ + "/10-broken.conflist", "{ nope");
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(manager->Ready().message(), "broken"); },
                      absl::Seconds(3)))
      << manager->Ready();
  EXPECT_THAT(manager->Ready().message(), HasSubstr("10-broken.conflist: not valid JSON"));

  WriteConflist("20-x.conflist", "x", "1.0.0", R"([{"type":"fakea"},{"type":"nosuch"}])");
  ASSERT_TRUE(
      WaitFor([&] { return manager->Ready().code() == absl::StatusCode::kFailedPrecondition; },
              absl::Seconds(2)))
      << manager->Ready();
  EXPECT_THAT(manager->Ready().message(), HasSubstr("CNI plugin nosuch not found in"));
  EXPECT_THAT(manager->Ready().message(), HasSubstr(bin_));
}

TEST_F(CniFakePluginTest, ConfigChangesTakeEffectWithoutRestart) {
  auto manager = StartManager();
  EXPECT_FALSE(manager->Ready().ok());
  WriteTwoPluginList();
  ASSERT_TRUE(WaitFor([&] { return manager->Ready().ok(); }, absl::Seconds(2))) << manager->Ready();

  // A lexically earlier single-plugin .conf becomes the default network.
  WriteFile(conf_ + "/05-new.conf", R"({"cniVersion":"1.0.0","name":"newnet","type":"fakeb"})");
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
        return result.ok() && Calls().back().stdin_json["name"] == "newnet";
      },
      absl::Seconds(2)));
  EXPECT_EQ(Calls().back().stdin_json["cniVersion"], "1.0.0");

  // Removing every config makes it not ready again.
  ASSERT_TRUE(RemoveAll(conf_ + "/05-new.conf").ok());
  ASSERT_TRUE(RemoveAll(conf_ + "/10-test.conflist").ok());
  EXPECT_TRUE(WaitFor([&] { return !manager->Ready().ok(); }, absl::Seconds(2)));
}

TEST_F(CniFakePluginTest, DefaultNetworkByName) {
  WriteTwoPluginList();
  WriteConflist("20-other.conflist", "other", "1.0.0", R"([{"type":"fakeb"}])");
  CniOptions options;
  options.config_dir = conf_;
  options.plugin_dirs = {bin_};
  options.cache_dir = root_ + "/cache";
  options.default_network = "other";
  auto manager = CniManager::Start(options);
  ASSERT_TRUE(manager.ok());
  ASSERT_TRUE((*manager)->SetUp(Request()).ok());
  EXPECT_THAT(Summary(Calls()), ElementsAre("ADD fakeb"));

  options.default_network = "missing";
  auto missing = CniManager::Start(options);
  ASSERT_TRUE(missing.ok());
  EXPECT_THAT((*missing)->Ready().message(), HasSubstr("no CNI network named \"missing\""));
  EXPECT_EQ((*missing)->SetUp(Request()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CniFakePluginTest, RejectsNamesThatCannotBeFileNames) {
  WriteTwoPluginList();
  auto manager = StartManager();
  PodNetworkRequest request = Request();
  request.pod_id = "../escape";
  EXPECT_EQ(manager->SetUp(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->TearDown(request).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Calls().empty());
}

// ---- Debian's real plugins in a real netns (root; tagged local, exclusive) ----

// Runs `command` with sh; returns its exit status and, if asked, its stdout.
int Shell(const std::string& command, std::string* output = nullptr) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  int status = ::pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

constexpr char kRealPluginDir[] = "/usr/lib/cni";

class CniRealPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    for (const char* plugin : {"bridge", "host-local", "portmap", "loopback"}) {
      std::string path = absl::StrCat(kRealPluginDir, "/", plugin);
      if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << path;
    }
    root_ = MakeTempDir();
    netns_name_ = absl::StrCat("ocid-cni-test-", ::getpid());
    netns_path_ = "/run/netns/" + netns_name_;
    bridge_ = absl::StrCat("ocidt", ::getpid() % 100000);
    ASSERT_EQ(Shell("ip netns add " + netns_name_), 0);
  }
  void TearDown() override {
    if (root_.empty()) return;
    if (http_pid_ > 0) {
      ::kill(http_pid_, SIGKILL);
      ::waitpid(http_pid_, nullptr, 0);
    }
    Shell(absl::StrCat("ip netns del ", netns_name_, " 2>/dev/null"));
    Shell(absl::StrCat("ip link del ", bridge_, " 2>/dev/null"));
    RemoveAll(root_).IgnoreError();
  }

  std::unique_ptr<CniManager> StartWith(const std::string& file, const std::string& config) {
    std::string conf_dir = root_ + "/net.d";
    EXPECT_TRUE(MakeDirs(conf_dir, 0755).ok());
    WriteFile(conf_dir + "/" + file, config);
    CniOptions options;
    options.config_dir = conf_dir;
    options.plugin_dirs = {kRealPluginDir};
    options.cache_dir = root_ + "/cache";
    auto manager = CniManager::Start(options);
    EXPECT_TRUE(manager.ok()) << manager.status();
    if (!manager.ok()) return nullptr;
    EXPECT_TRUE((*manager)->Ready().ok()) << (*manager)->Ready();
    return *std::move(manager);
  }

  // bridge (a gateway, no masquerading) with host-local, then portmap
  // without SNAT: nothing reaches beyond the test's own bridge and netns.
  std::unique_ptr<CniManager> StartBridge() {
    return StartWith("10-ocidtest.conflist",
                     absl::StrReplaceAll(R"({
      "cniVersion": "1.0.0", "name": "ocidtest",
      "plugins": [
        {"type": "bridge", "bridge": "@BRIDGE@", "isGateway": true, "ipMasq": false,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.211.0.0/24"}]],
                  "dataDir": "@ROOT@/ipam"}},
        {"type": "portmap", "snat": false, "capabilities": {"portMappings": true}}
      ]})",
                                         {{"@BRIDGE@", bridge_}, {"@ROOT@", root_}}));
  }

  PodNetworkRequest Request() {
    PodNetworkRequest request;
    request.pod_id = absl::StrCat("ocidtest", ::getpid());
    request.netns_path = netns_path_;
    request.pod_name = "real";
    request.pod_namespace = "test";
    request.pod_uid = "uid-real";
    return request;
  }

  std::string InNetns(const std::string& command) {
    std::string output;
    Shell(absl::StrCat("ip netns exec ", netns_name_, " ", command, " 2>&1"), &output);
    return output;
  }

  // busybox httpd on port 80 in the netns, serving one page.
  void StartHttpServer() {
    ASSERT_TRUE(MakeDirs(root_ + "/www", 0755).ok());
    WriteFile(root_ + "/www/index.html", "hello from the pod\n");
    std::vector<std::string> args = {"/usr/sbin/ip", "netns", "exec",        netns_name_,
                                     "busybox",      "httpd", "-f",          "-p",
                                     "80",           "-h",    root_ + "/www"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    http_pid_ = ::fork();
    ASSERT_GE(http_pid_, 0);
    if (http_pid_ == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  std::string root_, netns_name_, netns_path_, bridge_;
  pid_t http_pid_ = -1;
};

TEST_F(CniRealPluginTest, BridgeHostLocalAndPortmap) {
  auto manager = StartBridge();
  ASSERT_NE(manager, nullptr);
  PodNetworkRequest request = Request();
  request.port_mappings = {{18080, 80, "tcp", "10.211.0.1"}};
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(request);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->ips.empty());
  const std::string ip = result->ips[0];
  EXPECT_TRUE(absl::StartsWith(ip, "10.211.0.")) << ip;
  EXPECT_THAT(InNetns("ip -4 addr show eth0"), HasSubstr(ip + "/24"));
  EXPECT_EQ(Shell("busybox ping -c1 -W1 " + ip + " >/dev/null"), 0);
  std::string reservation = root_ + "/ipam/ocidtest/" + ip;
  EXPECT_TRUE(Exists(reservation));
  std::string rules;
  Shell("iptables -t nat -S 2>/dev/null", &rules);
  EXPECT_THAT(rules, HasSubstr("18080"));
  // The port mapping works: the host reaches a server in the pod through it.
  StartHttpServer();
  std::string page;
  EXPECT_TRUE(WaitFor(
      [&] {
        // (busybox wget -T crashes on Debian 12; curl is there.)
        return Shell("curl -s --noproxy '*' --max-time 2 http://10.211.0.1:18080/", &page) == 0;
      },
      absl::Seconds(3)));
  EXPECT_EQ(page, "hello from the pod\n");
  // No Check here: portmap 1.1.1's CHECK looks for ip6tables rules that an
  // IPv4-only pod never gets (containernetworking/plugins#819).

  ASSERT_TRUE(manager->TearDown(request).ok());
  EXPECT_THAT(InNetns("ip link show eth0"), HasSubstr("does not exist"));
  EXPECT_FALSE(Exists(reservation));
  std::string veths;
  Shell("ip link show master " + bridge_, &veths);
  EXPECT_EQ(veths, "");
  Shell("iptables -t nat -S 2>/dev/null", &rules);
  EXPECT_THAT(rules, ::testing::Not(HasSubstr("18080")));
  EXPECT_TRUE(manager->TearDown(request).ok());  // idempotent
}

TEST_F(CniRealPluginTest, TearDownAfterTheNetnsIsGoneReleasesTheAddress) {
  auto manager = StartBridge();
  ASSERT_NE(manager, nullptr);
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  std::string reservation = root_ + "/ipam/ocidtest/" + result->ips[0];
  EXPECT_TRUE(Exists(reservation));
  EXPECT_TRUE(manager->Check(Request()).ok()) << manager->Check(Request());
  ASSERT_EQ(Shell("ip netns del " + netns_name_), 0);
  EXPECT_EQ(manager->Check(Request()).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(manager->TearDown(Request()).ok());
  EXPECT_FALSE(Exists(reservation));
  EXPECT_FALSE(manager->CachedResult(Request().pod_id).ok());
}

TEST_F(CniRealPluginTest, LoopbackAlone) {
  auto manager =
      StartWith("99-loopback.conf", R"({"cniVersion":"1.0.0","name":"lo","type":"loopback"})");
  ASSERT_NE(manager, nullptr);
  EXPECT_THAT(InNetns("ip link show lo"), HasSubstr("state DOWN"));
  PodNetworkRequest request = Request();
  request.ifname = "lo";
  absl::StatusOr<PodNetworkResult> result = manager->SetUp(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(InNetns("ip link show lo"), HasSubstr("LOOPBACK,UP"));
  EXPECT_TRUE(manager->TearDown(request).ok());
}

}  // namespace
}  // namespace ocid
