// Running a piece of code inside another network namespace. setns changes
// only the calling thread, so the code runs on a thread of its own that ends
// with it: no thread of ocid's is ever left in a pod's namespace. Sockets it
// creates stay in that namespace after the thread is gone.
#ifndef OCID_PKG_BASE_NETNS_H_
#define OCID_PKG_BASE_NETNS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace ocid {

// Runs `fn` in the network namespace at `netns_path` (a pinned nsfs file or
// /proc/PID/ns/net) and waits for it. NotFound when the path does not exist.
absl::Status RunInNetworkNamespace(const std::string& netns_path, const std::function<void()>& fn);

}  // namespace ocid

#endif  // OCID_PKG_BASE_NETNS_H_
