#include "pkg/server/server.h"

#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/runtime/v1/api.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Unix socket paths are short (108 bytes): TEST_TMPDIR is too deep.
    char pattern[] = "/tmp/ocid-server-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    config_.listen = dir_ + "/run/ocid.sock";
    config_.root = dir_ + "/root";
    config_.runroot = dir_ + "/run";
    config_.network_dir = dir_ + "/net.d";
    config_.log_dir = dir_ + "/logs";
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<runtime::v1::RuntimeService::Stub> RuntimeStub() {
    return runtime::v1::RuntimeService::NewStub(
        grpc::CreateChannel("unix:" + config_.listen, grpc::InsecureChannelCredentials()));
  }

  std::string dir_;
  Config config_;
};

TEST_F(ServerTest, AnswersVersionStatusAndRuntimeConfig) {
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st;
  ASSERT_EQ(::stat(config_.listen.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto stub = RuntimeStub();
  {
    grpc::ClientContext context;
    runtime::v1::VersionRequest request;
    request.set_version("0.1.0");
    runtime::v1::VersionResponse response;
    ASSERT_TRUE(stub->Version(&context, request, &response).ok());
    EXPECT_EQ(response.runtime_name(), "ocid");
    EXPECT_EQ(response.runtime_api_version(), "v1");
    EXPECT_EQ(response.version(), "0.1.0");
    EXPECT_FALSE(response.runtime_version().empty());
  }
  {
    grpc::ClientContext context;
    runtime::v1::StatusRequest request;
    request.set_verbose(true);
    runtime::v1::StatusResponse response;
    ASSERT_TRUE(stub->Status(&context, request, &response).ok());
    ASSERT_EQ(response.status().conditions_size(), 2);
    EXPECT_EQ(response.status().conditions(0).type(), "RuntimeReady");
    const auto& network = response.status().conditions(1);
    EXPECT_EQ(network.type(), "NetworkReady");
    EXPECT_FALSE(network.status());
    EXPECT_EQ(network.reason(), "NetworkPluginNotReady");
    EXPECT_THAT(network.message(), HasSubstr(config_.network_dir));
    EXPECT_THAT(response.info().at("config"), HasSubstr(config_.listen));
  }
  {
    grpc::ClientContext context;
    runtime::v1::RuntimeConfigResponse response;
    ASSERT_TRUE(
        stub->RuntimeConfig(&context, runtime::v1::RuntimeConfigRequest(), &response).ok());
    EXPECT_EQ(response.linux().cgroup_driver(), runtime::v1::CgroupDriver::CGROUPFS);
  }
}

TEST_F(ServerTest, ReloadReadsThePolicyAgainAndKeepsTheOldOnError) {
  config_.signature_policy = dir_ + "/policy.json";
  config_.registries_conf = dir_ + "/registries.conf";
  config_.registries_d = dir_ + "/registries.d";
  std::ofstream(config_.signature_policy) << R"({"default": [{"type": "reject"}]})";
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE((*server)->Reload(config_).ok());

  std::ofstream(config_.signature_policy) << R"({"default": [{"type": "rejectish"}]})";
  absl::Status bad = (*server)->Reload(config_);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr(config_.signature_policy));

  std::ofstream(config_.signature_policy) << R"({"default": [{"type": "reject"}]})";
  std::ofstream(config_.registries_conf) << "unknown_key = 1\n";
  absl::Status bad_conf = (*server)->Reload(config_);
  EXPECT_THAT(std::string(bad_conf.message()), HasSubstr(config_.registries_conf));
  std::filesystem::remove(config_.registries_conf);
  EXPECT_TRUE((*server)->Reload(config_).ok());

  // The drop-ins are read again too.
  std::filesystem::create_directory(config_.registries_conf + ".d");
  std::ofstream(config_.registries_conf + ".d/50-mode.conf") << "short-name-mode = \"maybe\"\n";
  absl::Status bad_drop_in = (*server)->Reload(config_);
  EXPECT_THAT(std::string(bad_drop_in.message()),
              HasSubstr(config_.registries_conf + ".d/50-mode.conf:1: key \"short-name-mode\""));
  std::ofstream(config_.registries_conf + ".d/50-mode.conf") << "short-name-mode = \"disabled\"\n";
  EXPECT_TRUE((*server)->Reload(config_).ok());

  // ocid.conf's reloadable keys: a bad pinned_images pattern changes nothing.
  Config fresh = config_;
  fresh.pinned_images = {"a*b"};
  absl::Status bad_pin = (*server)->Reload(fresh);
  EXPECT_EQ(bad_pin.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_pin.message()), HasSubstr("ocid.image.pinned_images"));
  fresh.pinned_images = {"registry.k8s.io/pause*"};
  fresh.log_level = "debug";
  EXPECT_TRUE((*server)->Reload(fresh).ok());
  (*server)->Shutdown(absl::ZeroDuration());
}

TEST_F(ServerTest, ABadPinnedImagesPatternStopsTheStart) {
  config_.pinned_images = {"*"};
  auto server = CriServer::Start(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("ocid.image.pinned_images"));
}

TEST_F(ServerTest, RuntimeReadyNamesAMissingRuntimeBinary) {
  config_.runtimes["runc"].path = dir_ + "/no-runc";
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok());
  grpc::ClientContext context;
  runtime::v1::StatusResponse response;
  ASSERT_TRUE(RuntimeStub()->Status(&context, runtime::v1::StatusRequest(), &response).ok());
  const auto& ready = response.status().conditions(0);
  EXPECT_FALSE(ready.status());
  EXPECT_EQ(ready.reason(), "RuntimeBinaryMissing");
  EXPECT_THAT(ready.message(), HasSubstr(dir_ + "/no-runc"));
  EXPECT_EQ(response.info().count("config"), 0u) << "info is only for verbose requests";
}

TEST_F(ServerTest, UnbuiltCallsAnswerUnimplementedAndUnknownFieldsAreAccepted) {
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok());
  auto stub = RuntimeStub();
  {
    grpc::ClientContext context;
    runtime::v1::CheckpointPodResponse response;
    grpc::Status status =
        stub->CheckpointPod(&context, runtime::v1::CheckpointPodRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    grpc::ClientContext context;
    runtime::v1::ExecResponse response;
    grpc::Status status = stub->Exec(&context, runtime::v1::ExecRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "container_id is empty");
  }
  {
    auto images = runtime::v1::ImageService::NewStub(
        grpc::CreateChannel("unix:" + config_.listen, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    runtime::v1::ListImagesResponse response;
    EXPECT_TRUE(images->ListImages(&context, runtime::v1::ListImagesRequest(), &response).ok());
    EXPECT_EQ(response.images_size(), 0);
  }
  {
    // A newer client may send fields this API does not know yet.
    runtime::v1::VersionRequest request;
    request.GetReflection()->MutableUnknownFields(&request)->AddVarint(4242, 7);
    request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(4243, "x");
    grpc::ClientContext context;
    runtime::v1::VersionResponse response;
    EXPECT_TRUE(stub->Version(&context, request, &response).ok());
    EXPECT_EQ(response.runtime_name(), "ocid");
  }
}

TEST_F(ServerTest, AnUnknownDefaultCapabilityStopsTheStart) {
  config_.default_capabilities = {"CAP_CHOWN", "CAP_FLY"};
  auto server = CriServer::Start(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(),
              HasSubstr("ocid.runtime.default_capabilities[1]: unknown capability"));
}

TEST_F(ServerTest, RefusesASecondServerAndReplacesAStaleSocket) {
  auto first = CriServer::Start(config_);
  ASSERT_TRUE(first.ok());
  auto second = CriServer::Start(config_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already listening on " + config_.listen));
  (*first)->Shutdown(absl::Seconds(1));
  EXPECT_NE(::access(config_.listen.c_str(), F_OK), 0) << "shutdown removes the socket";

  // A socket file nobody listens on, as a killed ocid leaves behind.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, config_.listen.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);
  auto replaced = CriServer::Start(config_);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  grpc::ClientContext context;
  runtime::v1::VersionResponse response;
  EXPECT_TRUE(RuntimeStub()->Version(&context, runtime::v1::VersionRequest(), &response).ok());
}

// The socket is bound under a private name and renamed into place, so its
// path appears only once it listens (a client that connects on sight is
// never refused) and already with mode 0660.
TEST_F(ServerTest, TheSocketPathAppearsByRenameOnceItListens) {
  std::string run_dir = config_.runroot;
  std::filesystem::create_directories(run_dir);
  int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watch, 0);
  ASSERT_GE(::inotify_add_watch(watch, run_dir.c_str(), IN_CREATE | IN_MOVED_TO), 0);
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();

  std::vector<std::string> created, moved_in;
  alignas(inotify_event) char buffer[8192];
  ssize_t n;
  while ((n = ::read(watch, buffer, sizeof(buffer))) > 0) {
    for (char* p = buffer; p < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      if (event->len > 0) (event->mask & IN_CREATE ? created : moved_in).push_back(event->name);
      p += sizeof(inotify_event) + event->len;
    }
  }
  ::close(watch);
  std::string hidden = absl::StrCat(".ocid.sock.", ::getpid());
  EXPECT_THAT(created, ::testing::Contains(hidden));
  EXPECT_THAT(created, ::testing::Not(::testing::Contains("ocid.sock")))
      << "bound in place: visible before it listens";
  EXPECT_THAT(moved_in, ::testing::Contains("ocid.sock"));
  EXPECT_FALSE(std::filesystem::exists(run_dir + "/" + hidden));
  struct stat st;
  ASSERT_EQ(::stat(config_.listen.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  grpc::ClientContext context;
  runtime::v1::VersionResponse response;
  EXPECT_TRUE(RuntimeStub()->Version(&context, runtime::v1::VersionRequest(), &response).ok());
}

TEST_F(ServerTest, BadSocketPathsGiveClearErrors) {
  std::ofstream(dir_ + "/file") << "x";
  config_.listen = dir_ + "/file/ocid.sock";
  EXPECT_THAT(CriServer::Start(config_).status().message(),
              HasSubstr(dir_ + "/file exists and is not a directory"));

  config_.listen = dir_ + "/file";
  EXPECT_THAT(CriServer::Start(config_).status().message(),
              HasSubstr("exists and is not a socket"));

  config_.listen = dir_ + "/" + std::string(120, 'x');
  EXPECT_THAT(CriServer::Start(config_).status().message(), HasSubstr("is longer than"));
}

TEST_F(ServerTest, ImageCallsValidateAndAnswerForMissingImages) {
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto images = runtime::v1::ImageService::NewStub(
      grpc::CreateChannel("unix:" + config_.listen, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    runtime::v1::PullImageResponse response;
    grpc::Status status = images->PullImage(&context, runtime::v1::PullImageRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "image.image is empty");
  }
  {
    grpc::ClientContext context;
    runtime::v1::PullImageRequest request;
    request.mutable_image()->set_image("Not/A/Valid:Ref:");
    runtime::v1::PullImageResponse response;
    EXPECT_EQ(images->PullImage(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    // CRI: a missing image is an empty answer, not an error.
    grpc::ClientContext context;
    runtime::v1::ImageStatusRequest request;
    request.mutable_image()->set_image("busybox");
    runtime::v1::ImageStatusResponse response;
    ASSERT_TRUE(images->ImageStatus(&context, request, &response).ok());
    EXPECT_FALSE(response.has_image());
  }
  {
    grpc::ClientContext context;
    runtime::v1::RemoveImageRequest request;
    request.mutable_image()->set_image("busybox");
    runtime::v1::RemoveImageResponse response;
    EXPECT_TRUE(images->RemoveImage(&context, request, &response).ok()) << "idempotent";
  }
  {
    grpc::ClientContext context;
    runtime::v1::ImageFsInfoResponse response;
    ASSERT_TRUE(images->ImageFsInfo(&context, runtime::v1::ImageFsInfoRequest(), &response).ok());
    ASSERT_EQ(response.image_filesystems_size(), 1);
    EXPECT_EQ(response.image_filesystems(0).fs_id().mountpoint(), config_.root + "/storage");
    EXPECT_GT(response.image_filesystems(0).inodes_used().value(), 0u);
  }
}

TEST_F(ServerTest, OverlongHostnameIsRefusedBeforeAnythingIsMade) {
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = RuntimeStub();
  runtime::v1::RunPodSandboxRequest request;
  runtime::v1::PodSandboxConfig& config = *request.mutable_config();
  config.mutable_metadata()->set_name("pod");
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("uid-1");
  config.set_hostname(std::string(65, 'h'));
  {
    grpc::ClientContext context;
    runtime::v1::RunPodSandboxResponse response;
    grpc::Status status = stub->RunPodSandbox(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("config.hostname"));
    EXPECT_THAT(status.error_message(), HasSubstr("64 bytes"));
  }
  {
    grpc::ClientContext context;
    runtime::v1::ListPodSandboxResponse response;
    ASSERT_TRUE(
        stub->ListPodSandbox(&context, runtime::v1::ListPodSandboxRequest(), &response).ok());
    EXPECT_EQ(response.items_size(), 0);
  }
}

TEST_F(ServerTest, PortsOutOfRangeAreRefusedNamingTheField) {
  auto server = CriServer::Start(config_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = RuntimeStub();
  runtime::v1::RunPodSandboxRequest request;
  runtime::v1::PodSandboxConfig& config = *request.mutable_config();
  config.mutable_metadata()->set_name("pod");
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("uid-1");
  config.add_port_mappings()->set_container_port(80);  // host_port 0: fine
  runtime::v1::PortMapping& bad = *config.add_port_mappings();
  bad.set_container_port(80);
  bad.set_host_port(65536);
  {
    grpc::ClientContext context;
    runtime::v1::RunPodSandboxResponse response;
    grpc::Status status = stub->RunPodSandbox(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "config.port_mappings[1].host_port: 65536 is not a port (0-65535)");
  }
  bad.set_host_port(8080);
  bad.set_container_port(-1);
  {
    grpc::ClientContext context;
    runtime::v1::RunPodSandboxResponse response;
    grpc::Status status = stub->RunPodSandbox(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "config.port_mappings[1].container_port: -1 is not a port (0-65535)");
  }
  grpc::ClientContext context;
  runtime::v1::ListPodSandboxResponse response;
  ASSERT_TRUE(stub->ListPodSandbox(&context, runtime::v1::ListPodSandboxRequest(), &response).ok());
  EXPECT_EQ(response.items_size(), 0);
}

}  // namespace
}  // namespace ocid
