#include "cmd/ocic/commands.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <thread>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cmd/ocic/output.h"
#include "cmd/ocic/streaming.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"

namespace ocid::ocic {
namespace {

namespace cri = ::runtime::v1;

absl::StatusOr<std::string> Required(const Invocation& in, const std::string& flag) {
  std::optional<std::string> value = in.args.Flag(flag);
  if (!value || value->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  return *value;
}

// The operand or --flag naming an image, e.g. `ocic image pull busybox`.
absl::StatusOr<std::string> ImageName(const Invocation& in, const std::string& flag) {
  if (!in.operands.empty()) return in.operands[0];
  return Required(in, flag);
}

void PrintStatusFields(Invocation& in, const std::vector<std::pair<std::string, std::string>>& rows) {
  for (const auto& [key, value] : rows) in.out << key << ": " << value << "\n";
}

// ---- version, info

absl::Status Version(Invocation& in) {
  cri::VersionRequest request;
  request.set_version("0.1.0");
  cri::VersionResponse response;
  RETURN_IF_ERROR(in.client.Call("Version", [&](grpc::ClientContext& context) {
    return in.client.runtime().Version(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  PrintStatusFields(in, {{"Version", response.version()},
                         {"RuntimeName", response.runtime_name()},
                         {"RuntimeVersion", response.runtime_version()},
                         {"RuntimeApiVersion", response.runtime_api_version()}});
  return absl::OkStatus();
}

absl::Status Info(Invocation& in) {
  cri::StatusRequest request;
  request.set_verbose(true);
  cri::StatusResponse response;
  RETURN_IF_ERROR(in.client.Call("Status", [&](grpc::ClientContext& context) {
    return in.client.runtime().Status(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  for (const auto& condition : response.status().conditions()) {
    in.out << condition.type() << ": " << (condition.status() ? "true" : "false");
    if (!condition.reason().empty()) in.out << " (" << condition.reason() << ")";
    if (!condition.message().empty()) in.out << " " << condition.message();
    in.out << "\n";
  }
  std::vector<std::string> handlers;
  for (const auto& handler : response.runtime_handlers()) {
    handlers.push_back(handler.name().empty() ? "\"\" (default)" : handler.name());
  }
  in.out << "RuntimeHandlers: " << absl::StrJoin(handlers, ", ") << "\n";
  for (const auto& [key, value] : response.info()) in.out << key << ": " << value << "\n";
  return absl::OkStatus();
}

// ---- pods

absl::Status PodRun(Invocation& in) {
  ASSIGN_OR_RETURN(std::string path, Required(in, "config"));
  cri::RunPodSandboxRequest request;
  RETURN_IF_ERROR(LoadJsonConfig("config", path, *request.mutable_config()));
  request.set_runtime_handler(in.args.Flag("runtime").value_or(""));
  cri::RunPodSandboxResponse response;
  RETURN_IF_ERROR(in.client.Call("RunPodSandbox", [&](grpc::ClientContext& context) {
    return in.client.runtime().RunPodSandbox(&context, request, &response);
  }));
  in.out << (in.json ? ToJson(response) : response.pod_sandbox_id()) << "\n";
  return absl::OkStatus();
}

absl::Status PodStatus(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(id);
  request.set_verbose(in.json);
  cri::PodSandboxStatusResponse response;
  RETURN_IF_ERROR(in.client.Call("PodSandboxStatus", [&](grpc::ClientContext& context) {
    return in.client.runtime().PodSandboxStatus(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  const cri::PodSandboxStatus& pod = response.status();
  std::vector<std::string> ips = {pod.network().ip()};
  for (const auto& ip : pod.network().additional_ips()) ips.push_back(ip.ip());
  PrintStatusFields(in, {{"ID", pod.id()},
                         {"Name", pod.metadata().name()},
                         {"UID", pod.metadata().uid()},
                         {"Namespace", pod.metadata().namespace_()},
                         {"Attempt", absl::StrCat(pod.metadata().attempt())},
                         {"State", cri::PodSandboxState_Name(pod.state())},
                         {"Created", FormatNanos(pod.created_at())},
                         {"IP Addresses", absl::StrJoin(ips, ", ")},
                         {"Runtime Handler", pod.runtime_handler()},
                         {"Labels", FormatLabels(pod.labels())},
                         {"Annotations", FormatLabels(pod.annotations())}});
  return absl::OkStatus();
}

absl::Status PodStop(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  cri::StopPodSandboxResponse response;
  RETURN_IF_ERROR(in.client.Call("StopPodSandbox", [&](grpc::ClientContext& context) {
    return in.client.runtime().StopPodSandbox(&context, request, &response);
  }));
  in.out << id << "\n";
  return absl::OkStatus();
}

absl::Status PodRemove(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(id);
  cri::RemovePodSandboxResponse response;
  RETURN_IF_ERROR(in.client.Call("RemovePodSandbox", [&](grpc::ClientContext& context) {
    return in.client.runtime().RemovePodSandbox(&context, request, &response);
  }));
  in.out << id << "\n";
  return absl::OkStatus();
}

absl::Status PodList(Invocation& in) {
  cri::ListPodSandboxRequest request;
  cri::PodSandboxFilter& filter = *request.mutable_filter();
  filter.set_id(in.args.Flag("id").value_or(""));
  if (auto state = in.args.Flag("state")) {
    std::string name = absl::AsciiStrToUpper(*state);
    cri::PodSandboxState value;
    if (!cri::PodSandboxState_Parse("SANDBOX_" + name, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state: \"", *state, "\" is not ready or notready"));
    }
    filter.mutable_state()->set_state(value);
  }
  RETURN_IF_ERROR(ParseLabels(in.args.Flags("label"), *filter.mutable_label_selector()));
  cri::ListPodSandboxResponse response;
  RETURN_IF_ERROR(in.client.Call("ListPodSandbox", [&](grpc::ClientContext& context) {
    return in.client.runtime().ListPodSandbox(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  Table table({"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"});
  for (const cri::PodSandbox& pod : response.items()) {
    table.AddRow({ShortId(pod.id()), FormatNanos(pod.created_at()),
                  cri::PodSandboxState_Name(pod.state()), pod.metadata().name(),
                  pod.metadata().namespace_(), absl::StrCat(pod.metadata().attempt()),
                  pod.runtime_handler()});
  }
  in.out << table.Render();
  return absl::OkStatus();
}

// ---- containers

// kubelet passes the pod's config with each CreateContainer; ocic rebuilds
// it from --pod-config or, failing that, from the pod's status.
absl::Status SandboxConfigFor(Invocation& in, const std::string& pod_id,
                              cri::PodSandboxConfig& config) {
  if (auto path = in.args.Flag("pod-config")) return LoadJsonConfig("pod-config", *path, config);
  cri::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(pod_id);
  cri::PodSandboxStatusResponse response;
  RETURN_IF_ERROR(in.client.Call("PodSandboxStatus", [&](grpc::ClientContext& context) {
    return in.client.runtime().PodSandboxStatus(&context, request, &response);
  }));
  *config.mutable_metadata() = response.status().metadata();
  *config.mutable_labels() = response.status().labels();
  *config.mutable_annotations() = response.status().annotations();
  return absl::OkStatus();
}

absl::Status CtrCreate(Invocation& in) {
  ASSIGN_OR_RETURN(std::string pod_id, Required(in, "pod"));
  ASSIGN_OR_RETURN(std::string path, Required(in, "config"));
  cri::CreateContainerRequest request;
  request.set_pod_sandbox_id(pod_id);
  RETURN_IF_ERROR(LoadJsonConfig("config", path, *request.mutable_config()));
  RETURN_IF_ERROR(SandboxConfigFor(in, pod_id, *request.mutable_sandbox_config()));
  cri::CreateContainerResponse response;
  RETURN_IF_ERROR(in.client.Call("CreateContainer", [&](grpc::ClientContext& context) {
    return in.client.runtime().CreateContainer(&context, request, &response);
  }));
  in.out << (in.json ? ToJson(response) : response.container_id()) << "\n";
  return absl::OkStatus();
}

absl::Status CtrStart(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::StartContainerRequest request;
  request.set_container_id(id);
  cri::StartContainerResponse response;
  RETURN_IF_ERROR(in.client.Call("StartContainer", [&](grpc::ClientContext& context) {
    return in.client.runtime().StartContainer(&context, request, &response);
  }));
  in.out << id << "\n";
  return absl::OkStatus();
}

absl::Status CtrStatus(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::ContainerStatusRequest request;
  request.set_container_id(id);
  request.set_verbose(in.json);
  cri::ContainerStatusResponse response;
  RETURN_IF_ERROR(in.client.Call("ContainerStatus", [&](grpc::ClientContext& context) {
    return in.client.runtime().ContainerStatus(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  const cri::ContainerStatus& ctr = response.status();
  PrintStatusFields(in, {{"ID", ctr.id()},
                         {"Name", ctr.metadata().name()},
                         {"Attempt", absl::StrCat(ctr.metadata().attempt())},
                         {"State", cri::ContainerState_Name(ctr.state())},
                         {"Image", ctr.image().image()},
                         {"ImageRef", ctr.image_ref()},
                         {"Created", FormatNanos(ctr.created_at())},
                         {"Started", FormatNanos(ctr.started_at())},
                         {"Finished", FormatNanos(ctr.finished_at())},
                         {"Exit Code", absl::StrCat(ctr.exit_code())},
                         {"Reason", ctr.reason()},
                         {"Message", ctr.message()},
                         {"Log Path", ctr.log_path()},
                         {"Labels", FormatLabels(ctr.labels())}});
  return absl::OkStatus();
}

absl::Status CtrStop(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::StopContainerRequest request;
  request.set_container_id(id);
  int64_t timeout = 10;
  if (auto value = in.args.Flag("timeout")) {
    if (!absl::SimpleAtoi(*value, &timeout) || timeout < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--timeout: \"", *value,
                                                     "\" is not a number of seconds"));
    }
  }
  request.set_timeout(timeout);
  cri::StopContainerResponse response;
  RETURN_IF_ERROR(in.client.Call("StopContainer", [&](grpc::ClientContext& context) {
    return in.client.runtime().StopContainer(&context, request, &response);
  }));
  in.out << id << "\n";
  return absl::OkStatus();
}

absl::Status CtrRemove(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::RemoveContainerRequest request;
  request.set_container_id(id);
  cri::RemoveContainerResponse response;
  RETURN_IF_ERROR(in.client.Call("RemoveContainer", [&](grpc::ClientContext& context) {
    return in.client.runtime().RemoveContainer(&context, request, &response);
  }));
  in.out << id << "\n";
  return absl::OkStatus();
}

absl::Status CtrList(Invocation& in) {
  cri::ListContainersRequest request;
  cri::ContainerFilter& filter = *request.mutable_filter();
  filter.set_id(in.args.Flag("id").value_or(""));
  filter.set_pod_sandbox_id(in.args.Flag("pod").value_or(""));
  if (auto state = in.args.Flag("state")) {
    cri::ContainerState value;
    if (!cri::ContainerState_Parse("CONTAINER_" + absl::AsciiStrToUpper(*state), &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--state: \"", *state, "\" is not created, running, exited or unknown"));
    }
    filter.mutable_state()->set_state(value);
  }
  RETURN_IF_ERROR(ParseLabels(in.args.Flags("label"), *filter.mutable_label_selector()));
  cri::ListContainersResponse response;
  RETURN_IF_ERROR(in.client.Call("ListContainers", [&](grpc::ClientContext& context) {
    return in.client.runtime().ListContainers(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  Table table({"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"});
  for (const cri::Container& ctr : response.containers()) {
    table.AddRow({ShortId(ctr.id()), ctr.image().image(), FormatNanos(ctr.created_at()),
                  cri::ContainerState_Name(ctr.state()), ctr.metadata().name(),
                  absl::StrCat(ctr.metadata().attempt()), ShortId(ctr.pod_sandbox_id())});
  }
  in.out << table.Render();
  return absl::OkStatus();
}

// ---- stats (a table like crictl stats; --watch redraws it every second on
// a terminal)

std::string CpuPercent(const cri::CpuUsage& cpu) {
  if (!cpu.has_usage_nano_cores()) return "-";  // a first sample has no rate
  return absl::StrFormat("%.2f", static_cast<double>(cpu.usage_nano_cores().value()) / 1e7);
}

// Runs `draw` once, or every second until interrupted with --watch on a
// terminal (clearing the screen between tables).
absl::Status Repeat(Invocation& in, const std::function<absl::Status()>& draw) {
  bool watch = in.args.Has("watch") && in.show_progress && !in.json;
  while (true) {
    if (watch) in.out << "\x1b[H\x1b[2J";
    RETURN_IF_ERROR(draw());
    if (!watch) return absl::OkStatus();
    in.out << std::flush;
    absl::SleepFor(absl::Seconds(1));
  }
}

absl::Status CtrStats(Invocation& in) {
  cri::ListContainerStatsRequest request;
  cri::ContainerStatsFilter& filter = *request.mutable_filter();
  filter.set_id(in.args.Flag("id").value_or(""));
  filter.set_pod_sandbox_id(in.args.Flag("pod").value_or(""));
  RETURN_IF_ERROR(ParseLabels(in.args.Flags("label"), *filter.mutable_label_selector()));
  return Repeat(in, [&]() -> absl::Status {
    cri::ListContainerStatsResponse response;
    RETURN_IF_ERROR(in.client.Call("ListContainerStats", [&](grpc::ClientContext& context) {
      return in.client.runtime().ListContainerStats(&context, request, &response);
    }));
    if (in.json) {
      in.out << ToJson(response) << "\n";
      return absl::OkStatus();
    }
    Table table({"CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"});
    for (const cri::ContainerStats& s : response.stats()) {
      table.AddRow({ShortId(s.attributes().id()), s.attributes().metadata().name(),
                    CpuPercent(s.cpu()), FormatBytes(s.memory().working_set_bytes().value()),
                    FormatBytes(s.writable_layer().used_bytes().value()),
                    absl::StrCat(s.writable_layer().inodes_used().value())});
    }
    in.out << table.Render();
    return absl::OkStatus();
  });
}

absl::Status PodStats(Invocation& in) {
  cri::ListPodSandboxStatsRequest request;
  cri::PodSandboxStatsFilter& filter = *request.mutable_filter();
  filter.set_id(in.args.Flag("id").value_or(""));
  RETURN_IF_ERROR(ParseLabels(in.args.Flags("label"), *filter.mutable_label_selector()));
  return Repeat(in, [&]() -> absl::Status {
    cri::ListPodSandboxStatsResponse response;
    RETURN_IF_ERROR(in.client.Call("ListPodSandboxStats", [&](grpc::ClientContext& context) {
      return in.client.runtime().ListPodSandboxStats(&context, request, &response);
    }));
    if (in.json) {
      in.out << ToJson(response) << "\n";
      return absl::OkStatus();
    }
    Table table({"POD", "NAME", "CPU %", "MEM", "PROCS", "RX", "TX", "CONTAINERS"});
    for (const cri::PodSandboxStats& s : response.stats()) {
      const cri::LinuxPodSandboxStats& linux = s.linux();
      const cri::NetworkInterfaceUsage& eth0 = linux.network().default_interface();
      table.AddRow({ShortId(s.attributes().id()), s.attributes().metadata().name(),
                    CpuPercent(linux.cpu()),
                    FormatBytes(linux.memory().working_set_bytes().value()),
                    absl::StrCat(linux.process().process_count().value()),
                    FormatBytes(eth0.rx_bytes().value()), FormatBytes(eth0.tx_bytes().value()),
                    absl::StrCat(linux.containers_size())});
    }
    in.out << table.Render();
    return absl::OkStatus();
  });
}

absl::Status CtrExec(Invocation& in) {
  // -i or -t: a session through the streaming server; else ExecSync.
  if (WantsInteractive(in) || WantsTty(in)) return CtrExecInteractive(in);
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  if (in.args.rest.empty()) {
    return absl::InvalidArgumentError("no command given: ocic ctr exec --id ID -- CMD [ARG...]");
  }
  cri::ExecSyncRequest request;
  request.set_container_id(id);
  for (const std::string& word : in.args.rest) request.add_cmd(word);
  int64_t timeout = 0;
  if (auto value = in.args.Flag("timeout")) {
    if (!absl::SimpleAtoi(*value, &timeout) || timeout < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--timeout: \"", *value,
                                                     "\" is not a number of seconds"));
    }
  }
  request.set_timeout(timeout);
  cri::ExecSyncResponse response;
  RETURN_IF_ERROR(in.client.Call("ExecSync", [&](grpc::ClientContext& context) {
    return in.client.runtime().ExecSync(&context, request, &response);
  }));
  in.out << response.stdout();
  in.err << response.stderr();
  in.exit_code = response.exit_code();
  return absl::OkStatus();
}

// Prints the messages of a CRI log file ("<time> <stream> <P|F> <text>"):
// stdout lines to out, stderr lines to err; partial (P) lines are joined.
absl::Status CtrLogs(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, Required(in, "id"));
  cri::ContainerStatusRequest request;
  request.set_container_id(id);
  cri::ContainerStatusResponse response;
  RETURN_IF_ERROR(in.client.Call("ContainerStatus", [&](grpc::ClientContext& context) {
    return in.client.runtime().ContainerStatus(&context, request, &response);
  }));
  const std::string& path = response.status().log_path();
  if (path.empty()) return absl::NotFoundError(absl::StrCat("container ", id, " has no log"));
  std::ifstream log(path);
  if (!log) return absl::NotFoundError(absl::StrCat("cannot open log ", path));
  std::string line;
  while (std::getline(log, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (parts.size() < 3) continue;  // not a CRI log line
    std::string text = parts.size() == 4 ? parts[3] : "";
    std::ostream& stream = parts[1] == "stderr" ? in.err : in.out;
    stream << text << (parts[2] == "P" ? "" : "\n");
  }
  return absl::OkStatus();
}

// ---- images

// Polls the pull's progress (ImageStatus verbose) and redraws one line.
void ShowPullProgress(Invocation& in, const std::string& image, absl::Notification& done) {
  absl::Time start = absl::Now();
  while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    cri::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    request.set_verbose(true);
    cri::ImageStatusResponse response;
    absl::Status status = in.client.Call("ImageStatus", [&](grpc::ClientContext& context) {
      return in.client.images().ImageStatus(&context, request, &response);
    });
    auto info = response.info().find("pullProgress");
    if (!status.ok() || info == response.info().end()) continue;
    nlohmann::json progress = nlohmann::json::parse(info->second, nullptr, false);
    if (!progress.is_object()) continue;
    in.out << "\r" << image << " "
           << FormatPullProgress(progress.value("layersDone", 0), progress.value("layersTotal", 0),
                                 progress.value("bytesDone", int64_t{0}),
                                 progress.value("bytesTotal", int64_t{0}),
                                 absl::ToDoubleSeconds(absl::Now() - start))
           << "\x1b[K" << std::flush;
  }
  in.out << "\r\x1b[K" << std::flush;
}

absl::Status ImagePull(Invocation& in) {
  ASSIGN_OR_RETURN(std::string image, ImageName(in, "image"));
  cri::PullImageRequest request;
  request.mutable_image()->set_image(image);
  if (auto creds = in.args.Flag("creds")) {
    std::pair<std::string, std::string> user_password =
        absl::StrSplit(*creds, absl::MaxSplits(':', 1));
    request.mutable_auth()->set_username(user_password.first);
    request.mutable_auth()->set_password(user_password.second);
  }
  cri::PullImageResponse response;
  absl::Notification done;
  std::thread progress;
  if (in.show_progress && !in.json) {
    progress = std::thread([&] { ShowPullProgress(in, image, done); });
  }
  absl::Status status = in.client.Call("PullImage", [&](grpc::ClientContext& context) {
    return in.client.images().PullImage(&context, request, &response);
  });
  done.Notify();
  if (progress.joinable()) progress.join();
  RETURN_IF_ERROR(status);
  in.out << (in.json ? ToJson(response) : "Image is up to date for " + response.image_ref())
         << "\n";
  return absl::OkStatus();
}

absl::Status ImageList(Invocation& in) {
  cri::ListImagesRequest request;
  if (!in.operands.empty()) request.mutable_filter()->mutable_image()->set_image(in.operands[0]);
  cri::ListImagesResponse response;
  RETURN_IF_ERROR(in.client.Call("ListImages", [&](grpc::ClientContext& context) {
    return in.client.images().ListImages(&context, request, &response);
  }));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  Table table({"IMAGE", "TAG", "IMAGE ID", "SIZE"});
  for (const cri::Image& image : response.images()) {
    absl::string_view digest = image.id();
    absl::ConsumePrefix(&digest, "sha256:");
    std::string id = ShortId(std::string(digest));
    if (image.repo_tags().empty()) {
      table.AddRow({"<none>", "<none>", id, FormatBytes(image.size())});
    }
    for (const std::string& tag : image.repo_tags()) {
      size_t colon = tag.rfind(':');
      table.AddRow({tag.substr(0, colon), colon == std::string::npos ? "" : tag.substr(colon + 1),
                    id, FormatBytes(image.size())});
    }
  }
  in.out << table.Render();
  return absl::OkStatus();
}

absl::Status ImageStatus(Invocation& in) {
  ASSIGN_OR_RETURN(std::string image, ImageName(in, "id"));
  cri::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  request.set_verbose(in.json);
  cri::ImageStatusResponse response;
  RETURN_IF_ERROR(in.client.Call("ImageStatus", [&](grpc::ClientContext& context) {
    return in.client.images().ImageStatus(&context, request, &response);
  }));
  if (!response.has_image()) return absl::NotFoundError(absl::StrCat("no image ", image));
  if (in.json) {
    in.out << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  const cri::Image& found = response.image();
  PrintStatusFields(in, {{"ID", found.id()},
                         {"Tags", absl::StrJoin(found.repo_tags(), ", ")},
                         {"Digests", absl::StrJoin(found.repo_digests(), ", ")},
                         {"Size", FormatBytes(found.size())},
                         {"Pinned", found.pinned() ? "true" : "false"}});
  return absl::OkStatus();
}

absl::Status ImageRemove(Invocation& in) {
  ASSIGN_OR_RETURN(std::string image, ImageName(in, "id"));
  cri::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  cri::RemoveImageResponse response;
  RETURN_IF_ERROR(in.client.Call("RemoveImage", [&](grpc::ClientContext& context) {
    return in.client.images().RemoveImage(&context, request, &response);
  }));
  in.out << "Deleted: " << image << "\n";
  return absl::OkStatus();
}

// ---- events

// Prints each event as it comes; with --count N, stops after N.
absl::Status Events(Invocation& in) {
  int64_t count = 0;
  if (auto value = in.args.Flag("count")) {
    if (!absl::SimpleAtoi(*value, &count) || count < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--count: \"", *value, "\" is not a positive number"));
    }
  }
  grpc::ClientContext context;  // no deadline: a stream lasts until stopped
  std::unique_ptr<grpc::ClientReader<cri::ContainerEventResponse>> reader =
      in.client.runtime().GetContainerEvents(&context, cri::GetEventsRequest());
  // ocid answers with metadata once subscribed: say so, so that a script
  // knows when what it does next is seen.
  reader->WaitForInitialMetadata();
  in.err << "watching events" << std::endl;
  cri::ContainerEventResponse event;
  for (int64_t seen = 0; (count == 0 || seen < count) && reader->Read(&event); ++seen) {
    if (in.json) {
      in.out << ToJson(event) << std::endl;
      continue;
    }
    std::string pod = event.has_pod_sandbox_status() ? event.pod_sandbox_status().id() : "-";
    in.out << FormatNanos(event.created_at()) << " "
           << cri::ContainerEventType_Name(event.container_event_type()) << " "
           << event.container_id() << " pod " << pod << std::endl;
  }
  if (count > 0) context.TryCancel();
  grpc::Status status = reader->Finish();
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("GetContainerEvents: ", status.error_message()));
}

// ---- metrics

// The body of an HTTP/1.0 GET of `path` from the IPv4 `host:port`: ocid's
// metrics endpoint speaks plain HTTP on loopback by default.
absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& path) {
  std::pair<std::string, std::string> parts = absl::StrSplit(address, absl::MaxSplits(':', 1));
  int port = 0;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  if (!absl::SimpleAtoi(parts.second, &port) || port < 1 || port > 65535 ||
      ::inet_pton(AF_INET, parts.first.c_str(), &peer.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--address: \"", address, "\" is not IPv4ADDRESS:PORT"));
  }
  peer.sin_port = htons(static_cast<uint16_t>(port));
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("connect to ", address,
                                                   " (is ocid run with --enable-metrics?)"));
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, "\r\n\r\n");
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::ErrnoToStatus(errno, "send to " + address);
  }
  std::string response;
  char buffer[16384];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof(buffer))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read from " + address);
    response.append(buffer, static_cast<size_t>(n));
  }
  size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || body == std::string::npos) {
    return absl::DataLossError(absl::StrCat(address, " answered no HTTP response"));
  }
  std::string status_line = response.substr(0, response.find("\r\n"));
  if (!absl::StrContains(status_line, " 200")) {
    return absl::UnavailableError(absl::StrCat(address, path, ": ", status_line));
  }
  return response.substr(body + 4);
}

absl::Status Metrics(Invocation& in) {
  ASSIGN_OR_RETURN(std::string text,
                   HttpGet(in.args.Flag("address").value_or("127.0.0.1:9090"), "/metrics"));
  in.out << text;
  return absl::OkStatus();
}

}  // namespace

const std::vector<Command>& AllCommands() {
  static const auto* commands = new std::vector<Command>{
      {"version", "", "runtime name and versions", Version},
      {"info", "", "runtime conditions, handlers and config", Info},
      {"pod run", "--config FILE [--runtime HANDLER]", "run a pod sandbox", PodRun},
      {"pod status", "--id ID", "show a pod sandbox", PodStatus},
      {"pod stop", "--id ID", "stop a pod sandbox", PodStop},
      {"pod remove", "--id ID", "remove a pod sandbox", PodRemove},
      {"pod list", "[--id ID] [--state S] [--label K=V]...", "list pod sandboxes", PodList},
      {"pod port-forward", "--id ID [--transport spdy|websocket] LOCAL:REMOTE|PORT...",
       "forward local ports to ports in a pod until interrupted", PodPortForward},
      {"pod stats", "[--id ID] [--label K=V]... [--watch]", "pods' CPU, memory and network",
       PodStats},
      {"ctr create", "--pod ID --config FILE [--pod-config FILE]", "create a container",
       CtrCreate},
      {"ctr start", "--id ID", "start a container", CtrStart},
      {"ctr status", "--id ID", "show a container", CtrStatus},
      {"ctr stop", "--id ID [--timeout SECONDS]", "stop a container", CtrStop},
      {"ctr remove", "--id ID", "remove a container", CtrRemove},
      {"ctr list", "[--pod ID] [--id ID] [--state S] [--label K=V]...", "list containers",
       CtrList},
      {"ctr stats", "[--pod ID] [--id ID] [--label K=V]... [--watch]",
       "containers' CPU, memory and writable layer", CtrStats},
      {"ctr exec", "--id ID [-i] [-t] [--transport spdy|websocket] [--timeout SECONDS] -- CMD [ARG]...",
       "run a command in a container (-i: with our stdin, -t: in a terminal)", CtrExec},
      {"ctr attach", "--id ID [-i] [-t] [--transport spdy|websocket]", "attach to a running container's stdio", CtrAttach},
      {"ctr logs", "--id ID", "print a container's log", CtrLogs},
      {"image pull", "NAME [--creds USER:PASSWORD]", "pull an image", ImagePull},
      {"image list", "[NAME]", "list images", ImageList},
      {"image status", "NAME", "show an image", ImageStatus},
      {"image remove", "NAME", "remove an image", ImageRemove},
      {"events", "[--count N]", "print pod and container events as they happen", Events},
      {"metrics", "[--address 127.0.0.1:9090]", "print ocid's Prometheus metrics", Metrics},
  };
  return *commands;
}

const Command* FindCommand(const std::vector<std::string>& words, size_t& used) {
  for (size_t n = std::min<size_t>(words.size(), 2); n > 0; --n) {
    std::string name = absl::StrJoin(words.begin(), words.begin() + n, " ");
    for (const Command& command : AllCommands()) {
      if (command.name == name) {
        used = n;
        return &command;
      }
    }
  }
  return nullptr;
}

namespace {

// runtime.v1 made KeyValue.value `bytes` (base64 in proto3 JSON), but
// crictl-style configs write env values as plain text: encode them first.
void EncodeEnvValues(nlohmann::json& json) {
  if (json.is_object()) {
    for (auto& [key, child] : json.items()) {
      if (key != "envs" || !child.is_array()) {
        EncodeEnvValues(child);
        continue;
      }
      for (auto& env : child) {
        if (env.is_object() && env.contains("value") && env["value"].is_string()) {
          env["value"] = absl::Base64Escape(env["value"].get<std::string>());
        }
      }
    }
  } else if (json.is_array()) {
    for (auto& child : json) EncodeEnvValues(child);
  }
}

}  // namespace

absl::Status LoadJsonConfig(const std::string& flag, const std::string& path,
                            google::protobuf::Message& message) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", path, ": not valid JSON"));
  }
  EncodeEnvValues(json);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(json.dump(), &message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status ParseLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>& selector) {
  for (const std::string& label : labels) {
    size_t equals = label.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: \"", label, "\" is not of the form key=value"));
    }
    selector[label.substr(0, equals)] = label.substr(equals + 1);
  }
  return absl::OkStatus();
}

}  // namespace ocid::ocic
