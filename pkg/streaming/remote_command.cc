#include "pkg/streaming/remote_command.h"

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pkg/base/log.h"

namespace ocid::streaming {
namespace {

constexpr char kV5[] = "v5.channel.k8s.io";
// How long a terminal session waits for the client's first size.
constexpr absl::Duration kFirstSizeWait = absl::Seconds(1);
constexpr char kV4[] = "v4.channel.k8s.io";
constexpr char kV3[] = "v3.channel.k8s.io";
constexpr char kV2[] = "v2.channel.k8s.io";

struct Streams {
  std::shared_ptr<spdy::Stream> error, stdin, stdout, stderr, resize;
};

// Collects the streams the client opens until those the options call for
// are all there. An unknown stream type ends the session.
absl::StatusOr<Streams> AwaitStreams(spdy::Session& session, const RemoteCommandOptions& o,
                                     bool with_resize) {
  Streams s;
  auto complete = [&] {
    return s.error && (!o.stdin || s.stdin) && (!o.stdout || s.stdout) &&
           (!o.stderr || o.tty || s.stderr) && (!with_resize || s.resize);
  };
  absl::Time deadline = absl::Now() + o.stream_creation_timeout;
  while (!complete()) {
    std::shared_ptr<spdy::Stream> next = session.Accept(deadline - absl::Now());
    if (next == nullptr) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the client did not open its streams within ",
          absl::FormatDuration(o.stream_creation_timeout)));
    }
    std::string type = absl::AsciiStrToLower(next->Header("streamtype"));
    std::shared_ptr<spdy::Stream>* slot = type == "error"    ? &s.error
                                          : type == "stdin"  ? &s.stdin
                                          : type == "stdout" ? &s.stdout
                                          : type == "stderr" ? &s.stderr
                                          : type == "resize" ? &s.resize
                                                             : nullptr;
    if (slot == nullptr || *slot != nullptr) {
      next->Reset();
      return absl::InvalidArgumentError(
          absl::StrCat(slot == nullptr ? "unknown" : "repeated", " stream type \"", type, "\""));
    }
    *slot = std::move(next);
  }
  return s;
}

void WriteStatus(spdy::Stream* error, bool json, const absl::Status& status,
                 std::optional<int> exit_code) {
  if (error == nullptr) return;
  bool failed = !status.ok() || (exit_code.has_value() && *exit_code != 0);
  if (json) {
    error->Write(StatusJson(status, exit_code)).IgnoreError();
  } else if (failed) {
    // v1 to v3: the error's text, and nothing on success.
    error->Write(status.ok() ? absl::StrCat("command terminated with non-zero exit code: ",
                                            *exit_code)
                             : std::string(status.message()))
        .IgnoreError();
  }
  error->Close().IgnoreError();
}

}  // namespace

const std::vector<std::string> kRemoteCommandProtocols = {kV5, kV4, kV3, kV2,
                                                          "channel.k8s.io"};

std::string StatusJson(const absl::Status& error, std::optional<int> exit_code) {
  nlohmann::json status = {{"metadata", nlohmann::json::object()}};
  if (error.ok() && (!exit_code.has_value() || *exit_code == 0)) {
    status["status"] = "Success";
    return status.dump();
  }
  status["status"] = "Failure";
  if (error.ok()) {
    status["message"] =
        absl::StrCat("command terminated with non-zero exit code: exit status ", *exit_code);
    status["reason"] = "NonZeroExitCode";
    status["details"] = {
        {"causes", {{{"reason", "ExitCode"}, {"message", absl::StrCat(*exit_code)}}}}};
  } else {
    status["message"] = std::string(error.message());
    status["reason"] = "InternalError";
    status["code"] = 500;
  }
  return status.dump();
}

absl::Status ParseResizeEvents(std::string& buffer,
                               const std::function<void(uint16_t, uint16_t)>& resize) {
  for (;;) {
    size_t start = buffer.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) {
      buffer.clear();
      return absl::OkStatus();
    }
    size_t end = buffer.find('}', start);
    if (end == std::string::npos) {
      buffer.erase(0, start);
      if (buffer.size() > 4096) return absl::InvalidArgumentError("resize event is too long");
      return absl::OkStatus();
    }
    nlohmann::json event = nlohmann::json::parse(buffer.substr(start, end + 1 - start), nullptr,
                                                 /*allow_exceptions=*/false);
    buffer.erase(0, end + 1);
    if (!event.is_object()) return absl::InvalidArgumentError("resize event is not JSON");
    auto dimension = [&](const char* key) -> int64_t {
      auto it = event.find(key);
      return it != event.end() && it->is_number_unsigned() ? it->get<int64_t>() : -1;
    };
    int64_t width = dimension("Width"), height = dimension("Height");
    if (width < 0 || height < 0 || width > 0xffff || height > 0xffff) {
      return absl::InvalidArgumentError("resize event needs Width and Height from 0 to 65535");
    }
    resize(static_cast<uint16_t>(width), static_cast<uint16_t>(height));
  }
}

void ServeRemoteCommand(
    spdy::Session& session, const RemoteCommandOptions& options,
    const std::function<absl::StatusOr<std::unique_ptr<Channel>>(TerminalSize)>& open) {
  const bool json = options.protocol == kV5 || options.protocol == kV4;
  const bool with_resize = options.tty && (json || options.protocol == kV3);
  absl::StatusOr<Streams> streams = AwaitStreams(session, options, with_resize);
  if (!streams.ok()) {
    OCID_LOG(kWarn) << "streaming: " << streams.status().message();
    session.Close();
    return;
  }
  TerminalSize first_size;
  std::string resize_buffer;
  bool resize_ended = false;
  if (streams->resize) {
    absl::Time deadline = absl::Now() + kFirstSizeWait;
    while (first_size.width == 0 && !resize_ended && absl::Now() < deadline) {
      std::optional<std::string> data = streams->resize->ReadFor(deadline - absl::Now());
      if (!data.has_value()) break;
      if (data->empty()) {
        resize_ended = true;
        break;
      }
      resize_buffer += *data;
      absl::Status parsed = ParseResizeEvents(resize_buffer, [&](uint16_t w, uint16_t h) {
        first_size = TerminalSize{w, h};
      });
      if (!parsed.ok()) resize_ended = true;
    }
  }
  absl::StatusOr<std::unique_ptr<Channel>> opened = open(first_size);
  if (!opened.ok()) {
    WriteStatus(streams->error.get(), json, opened.status(), std::nullopt);
    if (streams->stdout) streams->stdout->Close().IgnoreError();
    if (streams->stderr) streams->stderr->Close().IgnoreError();
    session.Close();
    return;
  }
  Channel& channel = **opened;
  // An attach's terminal was there before us: give it the size now.
  if (first_size.width > 0) channel.Resize(first_size.width, first_size.height).IgnoreError();

  // The client going away ends the command.
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    session.WaitDone(absl::InfiniteDuration());
    if (!finished) channel.Cancel();
  });
  std::thread input;
  if (streams->stdin) {
    input = std::thread([&] {
      for (std::string data = streams->stdin->Read(); !data.empty();
           data = streams->stdin->Read()) {
        if (options.stdin) channel.WriteInput(data).IgnoreError();
      }
      channel.CloseInput();
    });
  }
  std::thread resizer;
  if (streams->resize && !resize_ended) {
    resizer = std::thread([&] {
      std::string& buffer = resize_buffer;
      for (std::string data = streams->resize->Read(); !data.empty();
           data = streams->resize->Read()) {
        buffer += data;
        absl::Status parsed = ParseResizeEvents(
            buffer, [&](uint16_t w, uint16_t h) { channel.Resize(w, h).IgnoreError(); });
        if (!parsed.ok()) {
          OCID_LOG(kWarn) << "streaming: " << parsed.message();
          return;
        }
      }
    });
  }

  absl::Status failure;
  for (;;) {
    absl::StatusOr<Output> out = channel.ReadOutput();
    if (!out.ok()) {
      failure = out.status();
      break;
    }
    if (out->data.empty()) break;
    spdy::Stream* to = out->kind == OutputKind::kStderr && !options.tty ? streams->stderr.get()
                                                                        : streams->stdout.get();
    // A client gone: keep draining until the channel, cancelled, ends.
    if (to != nullptr) to->Write(out->data).IgnoreError();
  }
  if (streams->stdout) streams->stdout->Close().IgnoreError();
  if (streams->stderr) streams->stderr->Close().IgnoreError();
  std::optional<int> exit_code;
  if (failure.ok()) {
    absl::StatusOr<std::optional<int>> waited = channel.Wait();
    if (waited.ok()) {
      exit_code = *waited;
    } else {
      failure = waited.status();
    }
  }
  WriteStatus(streams->error.get(), json, failure, exit_code);
  finished = true;
  session.Close();
  watcher.join();
  if (input.joinable()) input.join();
  if (resizer.joinable()) resizer.join();
}

}  // namespace ocid::streaming
