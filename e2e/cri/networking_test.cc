// critest's "Networking" specs (cri-tools pkg/validate/networking.go,
// v1.29): DNS config and hostname as the container sees them, and a web
// server reached through a port mapping, by the host port on loopback or by
// the container port at the pod's IP on the test bridge.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e/cri/cri_suite.h"

namespace ocid::e2e {
namespace {

// critest's defaultExecSyncTimeout, in seconds.
constexpr int64_t kExecSyncTimeout = 30;
constexpr char kDnsServer[] = "10.10.10.10";
constexpr char kDnsSearch[] = "google.com";
constexpr char kDnsOption[] = "ndots:8";
constexpr int32_t kWebServerContainerPort = 80;
// Must be free on the host while the spec runs (the suite is exclusive).
constexpr int32_t kWebServerHostPortForPortMapping = 12000;

class Networking : public CriTest {
 protected:
  // createPodSandboxWithPortMapping (no host network).
  absl::StatusOr<Pod> RunPodWithPortMapping(int32_t container_port, int32_t host_port) {
    v1::PodSandboxConfig config = DefaultPodConfig("create-PodSandbox-with-port-mapping");
    v1::PortMapping* mapping = config.add_port_mappings();
    mapping->set_container_port(container_port);
    mapping->set_host_port(host_port);
    return RunPod(config);
  }

  // createWebServerContainer, started.
  void RunWebServer(const Pod& pod, const std::string& prefix) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.mutable_image()->set_image(kNginxImage);
    config.clear_command();
    config.clear_args();
    config.mutable_linux();
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    OCID_ASSERT_OK(StartContainer(id));
  }

  // checkMainPage: retries the GET for a minute while it fails in
  // transport, then wants a 200.
  void CheckMainPage(const std::string& ip, int port) {
    absl::Time deadline = absl::Now() + absl::Minutes(1);
    absl::StatusOr<int> code = HttpGetStatus(ip, port);
    while (!code.ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Seconds(1));
      code = HttpGetStatus(ip, port);
    }
    ASSERT_TRUE(code.ok()) << "GET http://" << ip << ":" << port << "/: " << code.status();
    EXPECT_EQ(*code, 200) << "The status code of response should be 200.";
  }
};

TEST_F(Networking, RuntimeShouldSupportDNSConfig) {
  v1::PodSandboxConfig config = DefaultPodConfig("create-PodSandbox-with-DNS-config");
  config.mutable_dns_config()->add_servers(kDnsServer);
  config.mutable_dns_config()->add_searches(kDnsSearch);
  config.mutable_dns_config()->add_options(kDnsOption);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod, "container-for-DNS-config-test-"));
  OCID_ASSERT_OK(StartContainer(id));

  OCID_ASSERT_OK_AND_ASSIGN(ExecResult result,
                            ExecSync(id, {"cat", "/etc/resolv.conf"}, kExecSyncTimeout));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  for (const std::string& line :
       {absl::StrCat("nameserver ", kDnsServer), absl::StrCat("search ", kDnsSearch),
        absl::StrCat("options ", kDnsOption)}) {
    EXPECT_TRUE(absl::StrContains(result.stdout_text, line))
        << "The stdout output of execSync should contain \"" << line
        << "\": " << result.stdout_text;
  }
  EXPECT_EQ(result.stderr_text, "") << "The stderr should be empty.";
}

TEST_F(Networking, RuntimeShouldSupportSetHostname) {
  const std::string hostname = "test-hostname";
  v1::PodSandboxConfig config = DefaultPodConfig("create-PodSandbox-with-hostname");
  config.set_hostname(hostname);
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPod(config));
  OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                            CreateDefaultContainer(pod, "container-for-hostname-test-"));
  OCID_ASSERT_OK(StartContainer(id));

  OCID_ASSERT_OK_AND_ASSIGN(ExecResult result, ExecSync(id, {"hostname"}, kExecSyncTimeout));
  ASSERT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_TRUE(absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(result.stdout_text), hostname))
      << "hostname printed \"" << result.stdout_text << "\"";
  EXPECT_EQ(result.stderr_text, "") << "The stderr should be empty.";
}

TEST_F(Networking, RuntimeShouldSupportPortMappingWithOnlyContainerPort) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithPortMapping(kWebServerContainerPort, 0));
  ASSERT_NO_FATAL_FAILURE(RunWebServer(pod, "container-for-container-port"));

  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  ASSERT_TRUE(status.status().has_network()) << "The network in status should not be nil.";
  ASSERT_FALSE(status.status().network().ip().empty()) << "The IP should not be nil.";
  // The pod's IP is on the suite's own bridge.
  CheckMainPage(status.status().network().ip(), kWebServerContainerPort);
}

TEST_F(Networking, RuntimeShouldSupportPortMappingWithHostPortAndContainerPort) {
  OCID_ASSERT_OK_AND_ASSIGN(
      Pod pod, RunPodWithPortMapping(kWebServerContainerPort, kWebServerHostPortForPortMapping));
  ASSERT_NO_FATAL_FAILURE(RunWebServer(pod, "container-for-host-port"));
  CheckMainPage("127.0.0.1", kWebServerHostPortForPortMapping);
}

}  // namespace
}  // namespace ocid::e2e
