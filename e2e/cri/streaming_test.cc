// critest's "Streaming" specs (cri-tools pkg/validate/streaming.go and
// streaming_linux.go, v1.29), through our own SPDY client: exec with and
// without a terminal, attach to a shell, port-forward into a pod and into a
// host-network pod.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e/cri/streaming_support.h"

namespace ocid::e2e {
namespace {

const std::vector<std::string> kEchoHelloCmd = {"echo", "-n", "hello"};
constexpr int32_t kWebServerContainerPort = 80;
constexpr int32_t kHostPortForPortForward = 12001;
constexpr int32_t kHostPortForHostNetPortForward = 12002;
constexpr int32_t kHostNetContainerPort = 12003;

class Streaming : public StreamingTest {
 protected:
  // createPodSandboxWithPortMapping: a container port, no host port.
  absl::StatusOr<Pod> RunPodWithPortMapping(int32_t container_port, bool host_network) {
    v1::PodSandboxConfig config = DefaultPodConfig("create-PodSandbox-with-port-mapping");
    config.add_port_mappings()->set_container_port(container_port);
    if (host_network) {
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
          v1::NODE);
    }
    return RunPod(config);
  }

  void RunAndStart(const Pod& pod, const std::string& prefix, const std::string& image) {
    v1::ContainerConfig config = DefaultContainerConfig(prefix);
    config.mutable_image()->set_image(image);
    config.clear_command();
    OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
    OCID_ASSERT_OK(StartContainer(id));
  }

  // A default pod and started container, and `request` to exec
  // echoHelloCmd in it with stdout (the two exec specs' common part).
  void StartEchoHello(v1::ExecRequest& request) {
    OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
    OCID_ASSERT_OK_AND_ASSIGN(std::string id,
                              CreateDefaultContainer(pod, "container-for-exec-test"));
    OCID_ASSERT_OK(StartContainer(id));
    request.set_container_id(id);
    for (const std::string& arg : kEchoHelloCmd) request.add_cmd(arg);
    request.set_stdout(true);
  }

  // checkMainPage: a minute of retries, then a 200.
  void CheckMainPage(int port) {
    absl::Time deadline = absl::Now() + absl::Minutes(1);
    absl::StatusOr<int> code = HttpGetStatus("127.0.0.1", port);
    while ((!code.ok() || *code != 200) && absl::Now() < deadline) {
      absl::SleepFor(absl::Seconds(1));
      code = HttpGetStatus("127.0.0.1", port);
    }
    ASSERT_TRUE(code.ok()) << "GET http://127.0.0.1:" << port << "/: " << code.status();
    EXPECT_EQ(*code, 200);
  }

  // checkPortForward: the web server's main page through a local port.
  void CheckPortForward(const std::string& pod_id, int32_t local_port, int32_t container_port) {
    OCID_ASSERT_OK_AND_ASSIGN(std::string url, PortForwardUrl(pod_id));
    EXPECT_TRUE(absl::StartsWith(url, "http://")) << url;
    OCID_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LocalPortForward> forward,
                              LocalPortForward::Start(url, local_port, container_port));
    CheckMainPage(local_port);
  }
};

TEST_F(Streaming, RuntimeShouldSupportExecWithTtyFalseAndStdinFalse) {
  v1::ExecRequest request;
  ASSERT_NO_FATAL_FAILURE(StartEchoHello(request));
  request.set_stderr(true);
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, ExecUrl(request));
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url));
  EXPECT_EQ(session.out, "hello") << "The stdout of exec should be hello";
  EXPECT_EQ(session.err, "") << "The stderr of exec should be empty";
  EXPECT_EQ(session.result.exit_code, 0);
  EXPECT_EQ(session.result.failure, "");
}

TEST_F(Streaming, RuntimeShouldSupportExecWithTtyTrueAndStdinTrue) {
  v1::ExecRequest request;
  ASSERT_NO_FATAL_FAILURE(StartEchoHello(request));
  request.set_tty(true);
  request.set_stdin(true);
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, ExecUrl(request));
  streaming::RemoteCommandIo io;
  io.tty = true;
  io.stdin_data = "";  // an open stdin the command never reads
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
  EXPECT_TRUE(absl::StrContains(session.out, "hello")) << session.out;
  EXPECT_EQ(session.err, "");
  EXPECT_EQ(session.result.failure, "");
}

TEST_F(Streaming, RuntimeShouldSupportAttach) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunDefaultPod("PodSandbox-for-create-container-"));
  // createShellContainer: sh reading stdin, stdin_once.
  v1::ContainerConfig config = DefaultContainerConfig("container-for-attach-test");
  config.clear_command();
  config.add_command("/bin/sh");
  config.set_stdin(true);
  config.set_stdin_once(true);
  config.set_tty(false);
  OCID_ASSERT_OK_AND_ASSIGN(std::string id, CreateContainer(pod, config));
  OCID_ASSERT_OK(StartContainer(id));
  v1::AttachRequest request;
  request.set_container_id(id);
  request.set_stdin(true);
  request.set_stdout(true);
  request.set_stderr(true);
  OCID_ASSERT_OK_AND_ASSIGN(std::string url, AttachUrl(request));
  streaming::RemoteCommandIo io;
  io.stdin_data = absl::StrCat(absl::StrJoin(kEchoHelloCmd, " "), "\n");
  // The input ends after the command: stdin_once closes the shell's stdin,
  // the shell exits, and so does the session.
  OCID_ASSERT_OK_AND_ASSIGN(Session session, Run(url, io));
  EXPECT_EQ(session.out, "hello") << "The stdout of attach should be hello";
  EXPECT_EQ(session.err, "") << "The stderr of attach should be empty";
  EXPECT_EQ(session.result.failure, "");
}

TEST_F(Streaming, RuntimeShouldSupportPortforward) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithPortMapping(kWebServerContainerPort, false));
  ASSERT_NO_FATAL_FAILURE(RunAndStart(pod, "container-for-portforward-test", kNginxImage));
  OCID_ASSERT_OK_AND_ASSIGN(v1::PodSandboxStatusResponse status, PodStatus(pod.id));
  // Serving at the pod's IP first, as critest checks.
  absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (!HttpGetStatus(status.status().network().ip(), kWebServerContainerPort).ok() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Seconds(1));
  }
  CheckPortForward(pod.id, kHostPortForPortForward, kWebServerContainerPort);
}

TEST_F(Streaming, RuntimeShouldSupportPortforwardInHostNetwork) {
  OCID_ASSERT_OK_AND_ASSIGN(Pod pod, RunPodWithPortMapping(kHostNetContainerPort, true));
  ASSERT_NO_FATAL_FAILURE(
      RunAndStart(pod, "container-for-host-net-portforward-test", kHostNetNginxImage));
  CheckMainPage(kHostNetContainerPort);
  CheckPortForward(pod.id, kHostPortForHostNetPortForward, kHostNetContainerPort);
}

}  // namespace
}  // namespace ocid::e2e
