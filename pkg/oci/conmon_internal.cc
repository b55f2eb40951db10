#include "pkg/oci/conmon_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace oci_internal {
namespace {

// Waits until `fd` is readable or `deadline` passes (DeadlineExceeded).
absl::Status PollIn(int fd, absl::Time deadline) {
  while (true) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out");
      timeout_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT_MAX));
    }
    struct pollfd item = {fd, POLLIN, 0};
    int n = ::poll(&item, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll");
    if (n > 0) return absl::OkStatus();
  }
}

}  // namespace

std::string RuntimeMessage(absl::string_view stderr_text) {
  constexpr absl::string_view kMarker = "msg=\"";
  size_t start = stderr_text.rfind(kMarker);
  if (start == absl::string_view::npos) {
    return std::string(absl::StripAsciiWhitespace(stderr_text));
  }
  std::string message;
  for (size_t i = start + kMarker.size(); i < stderr_text.size(); ++i) {
    char c = stderr_text[i];
    if (c == '"') break;
    if (c == '\\' && i + 1 < stderr_text.size()) {
      c = stderr_text[++i];
      if (c == 'n') c = '\n';
      if (c == 't') c = '\t';
    }
    message.push_back(c);
  }
  return message;
}

absl::StatusOr<SyncMessage> ParseSyncMessage(absl::string_view text, absl::string_view key) {
  nlohmann::json json = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                              /*allow_exceptions=*/false);
  const std::string key_string(key);
  if (!json.is_object() || !json.contains(key_string) || !json[key_string].is_number_integer()) {
    return absl::InternalError(
        absl::StrCat("conmon sent an unexpected message: ", absl::StripAsciiWhitespace(text)));
  }
  int64_t value = json[key_string].get<int64_t>();
  if (value < INT_MIN || value > INT_MAX) {
    return absl::InternalError(absl::StrCat("conmon sent an out-of-range ", key, ": ", value));
  }
  SyncMessage message;
  message.value = static_cast<int>(value);
  if (json.contains("message") && json["message"].is_string()) {
    message.message = json["message"].get<std::string>();
  }
  return message;
}

absl::StatusOr<SyncMessage> ReadSyncMessage(int fd, absl::string_view key, absl::Duration timeout) {
  absl::Status ready = PollIn(fd, absl::Now() + timeout);
  if (absl::IsDeadlineExceeded(ready)) {
    return absl::DeadlineExceededError(
        absl::StrCat("conmon sent nothing within ", absl::FormatDuration(timeout)));
  }
  RETURN_IF_ERROR(ready);
  // One datagram per message; conmon's are at most a few KiB.
  std::string buffer(128 << 10, '\0');
  ssize_t n;
  do {
    n = ::recv(fd, &buffer[0], buffer.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::ErrnoToStatus(errno, "read conmon's sync pipe");
  if (n == 0) return absl::UnavailableError("conmon closed its sync pipe without a message");
  buffer.resize(static_cast<size_t>(n));
  return ParseSyncMessage(buffer, key);
}

void AppendCriLogLine(absl::string_view line, size_t max_per_stream, CriLogStreams& streams) {
  // <timestamp> <stream> <tag> <text>; the text may be empty.
  size_t first = line.find(' ');
  if (first == absl::string_view::npos) return;
  size_t second = line.find(' ', first + 1);
  if (second == absl::string_view::npos) return;
  absl::string_view stream = line.substr(first + 1, second - first - 1);
  absl::string_view rest = line.substr(second + 1);
  size_t third = rest.find(' ');
  absl::string_view tag = rest.substr(0, third);
  absl::string_view text =
      third == absl::string_view::npos ? absl::string_view() : rest.substr(third + 1);
  std::string* out = nullptr;
  if (stream == "stdout") out = &streams.stdout_data;
  if (stream == "stderr") out = &streams.stderr_data;
  if (out == nullptr || tag.empty()) return;
  std::string piece(text);
  if (tag[0] != 'P') piece.push_back('\n');
  size_t room = max_per_stream - std::min(max_per_stream, out->size());
  out->append(piece, 0, std::min(room, piece.size()));
}

absl::StatusOr<CriLogStreams> ReadCriLog(const std::string& path, size_t max_per_stream) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(::fopen(path.c_str(), "re"), &::fclose);
  if (file == nullptr) return absl::ErrnoToStatus(errno, "open " + path);
  CriLogStreams streams;
  char* line = nullptr;
  size_t capacity = 0;
  ssize_t n;
  while ((n = ::getline(&line, &capacity, file.get())) >= 0) {
    absl::string_view text(line, static_cast<size_t>(n));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    AppendCriLogLine(text, max_per_stream, streams);
  }
  bool failed = ::ferror(file.get()) != 0;
  ::free(line);
  if (failed) return absl::InternalError("read " + path);
  return streams;
}

}  // namespace oci_internal
}  // namespace ocid
