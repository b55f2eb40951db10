// Kubernetes' port-forward protocol (portforward.k8s.io) over a SPDY
// session: for each connection it forwards, the client opens an error stream
// and a data stream sharing `port` and `requestID` headers; we connect to the
// port in the pod and copy both ways, reporting a failure on the error stream.
#ifndef OCID_PKG_STREAMING_PORT_FORWARD_H_
#define OCID_PKG_STREAMING_PORT_FORWARD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/spdy_session.h"

namespace ocid::streaming {

inline constexpr char kPortForwardProtocol[] = "portforward.k8s.io";

// Serves the session until the client closes it. `allowed` empty means any
// port; `dial` connects to a port in the pod.
void ServePortForward(spdy::Session& session, const std::string& pod_id,
                      const std::vector<int32_t>& allowed,
                      const std::function<absl::StatusOr<UniqueFd>(int32_t port)>& dial);

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_PORT_FORWARD_H_
