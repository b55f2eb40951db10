#include "pkg/streaming/http_upgrade.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/status_macros.h"

namespace ocid::streaming {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxHead = 16 << 10;

// Feeds bytes from `fd` to `parser` until its head is complete; returns what
// was read past the head.
template <typename Parser>
absl::StatusOr<std::string> ParseHead(int fd, absl::Duration timeout, Parser& parser) {
  parser.header_limit(kMaxHead);
  parser.eager(false);
  absl::Time deadline = absl::Now() + timeout;
  std::string pending;
  char buf[4096];
  while (!parser.is_header_done()) {
    int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return absl::DeadlineExceededError("no HTTP request head in time");
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::ErrnoToStatus(errno, "poll");
    if (ready == 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read the HTTP head");
    if (n == 0) return absl::InvalidArgumentError("the connection closed before the HTTP head");
    pending.append(buf, static_cast<size_t>(n));
    boost::beast::error_code ec;
    size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
    pending.erase(0, used);
    if (ec == http::error::need_more) continue;
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad HTTP head: ", ec.message()));
  }
  return pending;
}

template <typename Fields>
HttpHeaders CopyHeaders(const Fields& fields) {
  HttpHeaders out;
  for (const auto& field : fields) {
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

const char* Reason(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

}  // namespace

std::vector<std::string> HeaderValues(const HttpHeaders& headers, absl::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (!absl::EqualsIgnoreCase(key, name)) continue;
    for (absl::string_view one : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      values.emplace_back(absl::StripAsciiWhitespace(one));
    }
  }
  return values;
}

absl::StatusOr<HttpRequest> ReadRequest(int fd, absl::Duration timeout) {
  http::request_parser<http::empty_body> parser;
  ASSIGN_OR_RETURN(std::string rest, ParseHead(fd, timeout, parser));
  const auto& message = parser.get();
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.headers = CopyHeaders(message);
  request.rest = std::move(rest);
  return request;
}

absl::StatusOr<HttpResponse> ReadResponse(int fd, absl::Duration timeout) {
  http::response_parser<http::empty_body> parser;
  ASSIGN_OR_RETURN(std::string rest, ParseHead(fd, timeout, parser));
  const auto& message = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  response.headers = CopyHeaders(message);
  response.rest = std::move(rest);
  return response;
}

absl::Status SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write to the streaming connection");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status WriteResponse(int fd, int status, const HttpHeaders& headers,
                           absl::string_view body) {
  std::string head = absl::StrCat("HTTP/1.1 ", status, " ", Reason(status), "\r\n");
  for (const auto& [key, value] : headers) absl::StrAppend(&head, key, ": ", value, "\r\n");
  if (status != 101) {
    absl::StrAppend(&head, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ",
                    body.size(), "\r\n");
  }
  absl::StrAppend(&head, "\r\n", body);
  return SendAll(fd, head);
}

absl::Status WriteRequest(int fd, absl::string_view method, absl::string_view target,
                          const HttpHeaders& headers) {
  std::string head = absl::StrCat(method, " ", target, " HTTP/1.1\r\n");
  for (const auto& [key, value] : headers) absl::StrAppend(&head, key, ": ", value, "\r\n");
  absl::StrAppend(&head, "Content-Length: 0\r\n\r\n");
  return SendAll(fd, head);
}

}  // namespace ocid::streaming
