#include "pkg/base/netns.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <thread>

#include "pkg/base/unique_fd.h"

namespace ocid {

absl::Status RunInNetworkNamespace(const std::string& netns_path,
                                   const std::function<void()>& fn) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return absl::ErrnoToStatus(errno, "open netns " + netns_path);
  absl::Status status;
  std::thread worker([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      status = absl::ErrnoToStatus(errno, "setns into " + netns_path);
      return;
    }
    fn();
  });
  worker.join();
  return status;
}

}  // namespace ocid
