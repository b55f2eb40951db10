#include "pkg/network/cni.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/network/cni_conflist_internal.h"
#include "pkg/network/cni_exec_internal.h"
#include "pkg/network/cni_result_internal.h"

namespace ocid {
namespace {

using cni_internal::CniNetworkList;
using nlohmann::json;

constexpr size_t kMaxCacheBytes = 16 << 20;
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// How often a missing config dir is looked for again.
constexpr int kRetryWatchMs = 1000;

// What SetUp leaves for TearDown and Check: the list exactly as run, the
// final result, and the capability arguments that went with it.
struct CachedNetwork {
  CniNetworkList list;
  json result;
  json capability_args;
};

// One CNI command over the plugins of a list for one pod.
struct PluginCall {
  const char* command;
  const CniNetworkList& list;
  const PodNetworkRequest& request;
  std::string netns;
  const json& capability_args;
};

bool IsFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// pod_id and ifname name the cache file, so they must be plain names.
absl::Status CheckRequestNames(const std::string& pod_id, const std::string& ifname) {
  if (!IsFileName(pod_id)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid pod ID \"", pod_id, "\""));
  }
  if (!IsFileName(ifname) || ifname.size() > 15) {
    return absl::InvalidArgumentError(absl::StrCat("invalid interface name \"", ifname, "\""));
  }
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> PluginEnv(const PluginCall& call, const std::vector<std::string>& dirs) {
  const PodNetworkRequest& request = call.request;
  const char* path = ::getenv("PATH");
  return {
      absl::StrCat("CNI_COMMAND=", call.command),
      absl::StrCat("CNI_CONTAINERID=", request.pod_id),
      absl::StrCat("CNI_NETNS=", call.netns),
      absl::StrCat("CNI_IFNAME=", request.ifname),
      absl::StrCat("CNI_PATH=", absl::StrJoin(dirs, ":")),
      absl::StrCat("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=", request.pod_namespace,
                   ";K8S_POD_NAME=", request.pod_name, ";K8S_POD_INFRA_CONTAINER_ID=",
                   request.pod_id, ";K8S_POD_UID=", request.pod_uid),
      absl::StrCat("PATH=", path != nullptr && *path != '\0' ? path : kDefaultPath),
  };
}

// DEL and CHECK get the cached result as prevResult from CNI 0.4.0 on.
bool PassesPrevResultOnDel(const CniNetworkList& list) {
  return cni_internal::CompareCniVersions(list.cni_version, "0.4.0") >= 0;
}

PodNetworkResult ResultOf(const json& result) {
  return PodNetworkResult{cni_internal::ResultIps(result), result.dump()};
}

}  // namespace

struct CniManager::Impl {
  explicit Impl(CniOptions options) : options(std::move(options)) {}
  ~Impl();

  absl::Status StartWatching();
  void Watch();
  bool DrainEvents(int inotify_fd, int watch);
  void Reload();
  absl::StatusOr<std::shared_ptr<const CniNetworkList>> Current() const;
  std::string PodCidr() const;

  absl::StatusOr<json> Invoke(const PluginCall& call, size_t index, const json& prev) const;
  absl::StatusOr<json> AddAll(const CniNetworkList& list, const PodNetworkRequest& request,
                              const json& args) const;
  absl::Status DelAll(const PluginCall& call, const json& prev) const;
  absl::Status RolledBack(const absl::Status& error, const CniNetworkList& list,
                          const PodNetworkRequest& request, const json& result,
                          const json& args) const;

  std::string CachePath(const std::string& pod_id, const std::string& ifname) const;
  absl::Status WriteCache(const PodNetworkRequest& request, const CachedNetwork& cached) const;
  absl::StatusOr<CachedNetwork> ReadCache(const std::string& pod_id,
                                          const std::string& ifname) const;

  const CniOptions options;
  mutable absl::Mutex mu;
  std::shared_ptr<const CniNetworkList> network ABSL_GUARDED_BY(mu);
  absl::Status load_status ABSL_GUARDED_BY(mu);  // why `network` is null
  std::string pod_cidr ABSL_GUARDED_BY(mu);
  UniqueFd stop_fd;  // an eventfd; readable once the watcher must stop
  std::thread watcher;
};

// ---- Config loading and watching ----

CniManager::Impl::~Impl() {
  if (!watcher.joinable()) return;
  uint64_t one = 1;
  while (::write(stop_fd.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  watcher.join();
}

absl::Status CniManager::Impl::StartWatching() {
  stop_fd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd.valid()) return absl::ErrnoToStatus(errno, "eventfd for the CNI config watcher");
  Reload();
  watcher = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

void CniManager::Impl::Reload() {
  absl::StatusOr<CniNetworkList> loaded =
      cni_internal::LoadDefaultNetwork(options.config_dir, options.default_network);
  absl::MutexLock lock(&mu);
  if (loaded.ok()) {
    network = std::make_shared<const CniNetworkList>(*std::move(loaded));
    load_status = absl::OkStatus();
  } else {
    network = nullptr;
    load_status = loaded.status();
  }
}

// Reloads on every change in the config dir until stop_fd fires. While the
// dir is missing (or inotify is unavailable) it looks again every second.
void CniManager::Impl::Watch() {
  UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  int watch = -1;
  while (true) {
    if (watch < 0) {
      if (inotify.valid()) {
        watch = ::inotify_add_watch(inotify.get(), options.config_dir.c_str(), kWatchMask);
      }
      Reload();  // also catches changes made before the watch existed
    }
    pollfd fds[2] = {{stop_fd.get(), POLLIN, 0}, {inotify.get(), POLLIN, 0}};
    int n = ::poll(fds, inotify.valid() ? 2 : 1, watch < 0 ? kRetryWatchMs : -1);
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;
    if (n > 0 && fds[1].revents != 0) {
      if (DrainEvents(inotify.get(), watch)) watch = -1;
      Reload();
    }
  }
}

// Reads the pending events; true when the watch on the dir is gone (the
// dir was removed or moved away).
bool CniManager::Impl::DrainEvents(int inotify_fd, int watch) {
  alignas(inotify_event) char buffer[4096];
  bool lost = false;
  while (true) {
    ssize_t n = ::read(inotify_fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      if (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) lost = true;
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  if (lost) ::inotify_rm_watch(inotify_fd, watch);
  return lost;
}

absl::StatusOr<std::shared_ptr<const CniNetworkList>> CniManager::Impl::Current() const {
  absl::MutexLock lock(&mu);
  if (network == nullptr) return load_status;
  return network;
}

std::string CniManager::Impl::PodCidr() const {
  absl::MutexLock lock(&mu);
  return pod_cidr;
}

// ---- Plugin execution ----

// Runs plugin `index` of the call's list; for ADD returns its result (which
// the spec requires), for others null.
absl::StatusOr<json> CniManager::Impl::Invoke(const PluginCall& call, size_t index,
                                              const json& prev) const {
  std::string type = call.list.PluginType(index);
  ASSIGN_OR_RETURN(std::string path, cni_internal::FindPlugin(type, options.plugin_dirs));
  json conf = cni_internal::PluginStdin(call.list, index, prev, call.capability_args);
  ASSIGN_OR_RETURN(cni_internal::PluginRun run,
                   cni_internal::RunPlugin(path, PluginEnv(call, options.plugin_dirs), conf.dump(),
                                           options.plugin_timeout));
  if (run.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("CNI plugin ", type, " timed out after ",
                                                    absl::ToDoubleSeconds(options.plugin_timeout),
                                                    "s"));
  }
  if (run.exit_code != 0) {
    return absl::InternalError(cni_internal::PluginFailureMessage(type, run));
  }
  if (std::string(call.command) != "ADD") return json();
  if (absl::StripAsciiWhitespace(run.stdout_text).empty()) {
    return absl::InternalError(absl::StrCat("CNI plugin ", type, " printed no result"));
  }
  json result = json::parse(run.stdout_text, nullptr, /*allow_exceptions=*/false);
  if (!result.is_object()) {
    return absl::InternalError(absl::StrCat(
        "CNI plugin ", type, " printed an invalid result: ", run.stdout_text.substr(0, 512)));
  }
  return result;
}

// ADD for every plugin in order, each getting the previous one's result. On
// failure, DEL for the whole list has run before the error returns.
absl::StatusOr<json> CniManager::Impl::AddAll(const CniNetworkList& list,
                                              const PodNetworkRequest& request,
                                              const json& args) const {
  PluginCall call{"ADD", list, request, request.netns_path, args};
  json result;
  for (size_t i = 0; i < list.PluginCount(); ++i) {
    absl::StatusOr<json> added = Invoke(call, i, result);
    if (!added.ok()) return RolledBack(added.status(), list, request, result, args);
    result = *std::move(added);
  }
  return result;
}

// DEL for every plugin in reverse order; goes on past failures (to release
// what it can) and returns the first.
absl::Status CniManager::Impl::DelAll(const PluginCall& call, const json& prev) const {
  json prev_result = PassesPrevResultOnDel(call.list) ? prev : json();
  absl::Status first_error;
  for (size_t i = call.list.PluginCount(); i-- > 0;) {
    absl::StatusOr<json> deleted = Invoke(call, i, prev_result);
    if (!deleted.ok() && first_error.ok()) first_error = deleted.status();
  }
  return first_error;
}

absl::Status CniManager::Impl::RolledBack(const absl::Status& error, const CniNetworkList& list,
                                          const PodNetworkRequest& request, const json& result,
                                          const json& args) const {
  absl::Status undone = DelAll({"DEL", list, request, request.netns_path, args}, result);
  if (undone.ok()) return error;
  return absl::Status(
      error.code(),
      absl::StrCat(error.message(), " (cleanup DEL also failed: ", undone.message(), ")"));
}

// ---- The result cache ----

std::string CniManager::Impl::CachePath(const std::string& pod_id,
                                        const std::string& ifname) const {
  return absl::StrCat(options.cache_dir, "/", pod_id, "-", ifname, ".json");
}

absl::Status CniManager::Impl::WriteCache(const PodNetworkRequest& request,
                                          const CachedNetwork& cached) const {
  json record = {{"network", cached.list.name},
                 {"cniVersion", cached.list.cni_version},
                 {"config", cached.list.config},
                 {"result", cached.result},
                 {"capabilityArgs", cached.capability_args}};
  RETURN_IF_ERROR(MakeDirs(options.cache_dir, 0700));
  return WriteFileAtomically(CachePath(request.pod_id, request.ifname), record.dump(), 0600);
}

// NotFound when there is no cache for the pod, DataLoss when it is corrupt.
absl::StatusOr<CachedNetwork> CniManager::Impl::ReadCache(const std::string& pod_id,
                                                          const std::string& ifname) const {
  std::string path = CachePath(pod_id, ifname);
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxCacheBytes));
  json record = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("config") || !record.contains("result")) {
    return absl::DataLossError(absl::StrCat(path, ": not a CNI cache record"));
  }
  absl::StatusOr<CniNetworkList> list =
      cni_internal::NetworkListFromJson(std::move(record["config"]), path);
  if (!list.ok()) return absl::DataLossError(list.status().message());
  json args = record.value("capabilityArgs", json::object());
  return CachedNetwork{*std::move(list), std::move(record["result"]), std::move(args)};
}

// ---- CniManager ----

absl::StatusOr<std::unique_ptr<CniManager>> CniManager::Start(CniOptions options) {
  if (options.cache_dir.empty()) return absl::InvalidArgumentError("no CNI cache dir");
  std::unique_ptr<CniManager> manager(new CniManager());
  manager->impl_ = std::make_unique<Impl>(std::move(options));
  RETURN_IF_ERROR(manager->impl_->StartWatching());
  return manager;
}

CniManager::~CniManager() = default;

absl::Status CniManager::Ready() const {
  ASSIGN_OR_RETURN(std::shared_ptr<const CniNetworkList> list, impl_->Current());
  for (size_t i = 0; i < list->PluginCount(); ++i) {
    absl::StatusOr<std::string> found =
        cni_internal::FindPlugin(list->PluginType(i), impl_->options.plugin_dirs);
    if (!found.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(found.status().message(), " (network \"",
                                                        list->name, "\" from ", list->file, ")"));
    }
  }
  return absl::OkStatus();
}

void CniManager::SetPodCidr(const std::string& cidr) {
  absl::MutexLock lock(&impl_->mu);
  impl_->pod_cidr = cidr;
}

absl::StatusOr<PodNetworkResult> CniManager::SetUp(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(CheckRequestNames(request.pod_id, request.ifname));
  if (request.netns_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no netns path for pod ", request.pod_id));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const CniNetworkList> list, impl_->Current());
  json args = cni_internal::CapabilityArgs(request, impl_->PodCidr());
  ASSIGN_OR_RETURN(json result, impl_->AddAll(*list, request, args));
  absl::Status cached = impl_->WriteCache(request, {*list, result, args});
  if (!cached.ok()) return impl_->RolledBack(cached, *list, request, result, args);
  return ResultOf(result);
}

absl::Status CniManager::TearDown(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(CheckRequestNames(request.pod_id, request.ifname));
  std::string netns = PathExists(request.netns_path) ? request.netns_path : "";
  absl::StatusOr<CachedNetwork> cached = impl_->ReadCache(request.pod_id, request.ifname);
  if (!cached.ok() && !absl::IsNotFound(cached.status()) && !absl::IsDataLoss(cached.status())) {
    return cached.status();
  }
  if (cached.ok()) {
    RETURN_IF_ERROR(impl_->DelAll({"DEL", cached->list, request, netns, cached->capability_args},
                                  cached->result));
  } else {
    // Never set up, already torn down, or the cache is unreadable: DEL with
    // the current config (plugins tolerate DEL for what they do not know).
    absl::StatusOr<std::shared_ptr<const CniNetworkList>> list = impl_->Current();
    if (list.ok()) {
      json args = cni_internal::CapabilityArgs(request, impl_->PodCidr());
      RETURN_IF_ERROR(impl_->DelAll({"DEL", **list, request, netns, args}, json()));
    }
  }
  std::string path = impl_->CachePath(request.pod_id, request.ifname);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, "remove CNI cache " + path);
  }
  return absl::OkStatus();
}

absl::Status CniManager::Check(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(CheckRequestNames(request.pod_id, request.ifname));
  ASSIGN_OR_RETURN(CachedNetwork cached, impl_->ReadCache(request.pod_id, request.ifname));
  if (!PassesPrevResultOnDel(cached.list) || cached.list.disable_check) return absl::OkStatus();
  if (!PathExists(request.netns_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("netns \"", request.netns_path, "\" of pod ", request.pod_id, " is gone"));
  }
  PluginCall call{"CHECK", cached.list, request, request.netns_path, cached.capability_args};
  for (size_t i = 0; i < cached.list.PluginCount(); ++i) {
    RETURN_IF_ERROR(impl_->Invoke(call, i, cached.result).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<PodNetworkResult> CniManager::CachedResult(const std::string& pod_id,
                                                          const std::string& ifname) const {
  RETURN_IF_ERROR(CheckRequestNames(pod_id, ifname));
  ASSIGN_OR_RETURN(CachedNetwork cached, impl_->ReadCache(pod_id, ifname));
  return ResultOf(cached.result);
}

}  // namespace ocid
