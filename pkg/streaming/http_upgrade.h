// The HTTP/1.1 exchange before a connection becomes SPDY: a request head
// read from a socket (Boost.Beast's parser), a response written, and the
// client's side of the same.
#ifndef OCID_PKG_STREAMING_HTTP_UPGRADE_H_
#define OCID_PKG_STREAMING_HTTP_UPGRADE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ocid::streaming {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  HttpHeaders headers;
  std::string rest;  // bytes read past the head: the first frames
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string rest;  // bytes read past the head
};

// All values of `name` (case-insensitive), each comma-separated list split.
std::vector<std::string> HeaderValues(const HttpHeaders& headers, absl::string_view name);

// Reads one request head (at most 16 KiB) from `fd` within `timeout`.
// InvalidArgument for a malformed request; DeadlineExceeded when it is slow.
absl::StatusOr<HttpRequest> ReadRequest(int fd, absl::Duration timeout);
absl::StatusOr<HttpResponse> ReadResponse(int fd, absl::Duration timeout);

// Writes a complete response (Content-Length set from `body`).
absl::Status WriteResponse(int fd, int status, const HttpHeaders& headers,
                           absl::string_view body = "");
// Writes a request head with no body.
absl::Status WriteRequest(int fd, absl::string_view method, absl::string_view target,
                          const HttpHeaders& headers);

// Writes all of `data` to a socket (no SIGPIPE).
absl::Status SendAll(int fd, absl::string_view data);

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_HTTP_UPGRADE_H_
