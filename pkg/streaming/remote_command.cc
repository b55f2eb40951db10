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
constexpr char kV4[] = "v4.channel.k8s.io";
constexpr char kV4Base64[] = "v4.base64.channel.k8s.io";  // WebSocket only
constexpr char kV3[] = "v3.channel.k8s.io";
constexpr char kV2[] = "v2.channel.k8s.io";
// How long a terminal session waits for the client's first size.
constexpr absl::Duration kFirstSizeWait = absl::Seconds(1);

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

// The SPDY streams of one session.
class SpdyTransport : public CommandTransport {
 public:
  SpdyTransport(spdy::Session& session, Streams streams, bool stdin)
      : session_(session), s_(std::move(streams)), stdin_(stdin) {}

  void SendOutput(OutputKind kind, absl::string_view data) override {
    spdy::Stream* to = kind == OutputKind::kStderr ? s_.stderr.get() : s_.stdout.get();
    // A client gone: keep draining until the channel, cancelled, ends.
    if (to != nullptr) to->Write(data).IgnoreError();
  }
  void EndOutput() override {
    if (s_.stdout) s_.stdout->Close().IgnoreError();
    if (s_.stderr) s_.stderr->Close().IgnoreError();
  }
  void SendStatus(absl::string_view status) override {
    if (!status.empty()) s_.error->Write(status).IgnoreError();
    s_.error->Close().IgnoreError();
  }
  TerminalSize AwaitFirstSize(absl::Duration wait) override {
    TerminalSize first;
    if (!s_.resize) return first;
    absl::Time deadline = absl::Now() + wait;
    while (first.width == 0 && !resize_ended_ && absl::Now() < deadline) {
      std::optional<std::string> data = s_.resize->ReadFor(deadline - absl::Now());
      if (!data.has_value()) break;
      resize_ended_ = data->empty();
      resize_buffer_ += *data;
      absl::Status parsed = ParseResizeEvents(
          resize_buffer_, [&](uint16_t w, uint16_t h) { first = TerminalSize{w, h}; });
      if (!parsed.ok()) resize_ended_ = true;
    }
    return first;
  }
  void PumpInput(Channel& channel) override {
    std::thread resizer;
    if (s_.resize && !resize_ended_) {
      resizer = std::thread([&] {
        std::string& buffer = resize_buffer_;  // what AwaitFirstSize left
        for (std::string data = s_.resize->Read(); !data.empty(); data = s_.resize->Read()) {
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
    if (s_.stdin) {
      for (std::string data = s_.stdin->Read(); !data.empty(); data = s_.stdin->Read()) {
        if (stdin_) channel.WriteInput(data).IgnoreError();
      }
      channel.CloseInput();
    }
    if (resizer.joinable()) resizer.join();
  }
  void WaitGone() override { session_.WaitDone(absl::InfiniteDuration()); }
  void Close() override { session_.Close(); }

 private:
  spdy::Session& session_;
  Streams s_;
  const bool stdin_;
  std::string resize_buffer_;
  bool resize_ended_ = false;
};

// One WebSocket connection's channels.
class WebSocketTransport : public CommandTransport {
 public:
  WebSocketTransport(ws::Connection& connection, const RemoteCommandOptions& options)
      : connection_(connection),
        options_(options),
        codec_(ws::ChannelCodec::ForProtocol(options.protocol)) {}

  // Tells the client the session is up: an empty message on the lowest
  // channel it will hear from, as kubelet sends.
  void Greet() {
    Send(options_.stdout ? kStdoutChannel : options_.stderr ? kStderrChannel : kErrorChannel, "");
  }
  void SendOutput(OutputKind kind, absl::string_view data) override {
    bool err = kind == OutputKind::kStderr;
    if (err ? !options_.stderr : !options_.stdout) return;  // not asked for: dropped
    for (size_t at = 0; at < data.size(); at += kMaxChunk) {
      Send(err ? kStderrChannel : kStdoutChannel, data.substr(at, kMaxChunk));
    }
  }
  void EndOutput() override {}  // v5 could say so, but kubelet does not: the close ends them
  void SendStatus(absl::string_view status) override {
    if (!status.empty()) Send(kErrorChannel, status);
  }
  void PumpInput(Channel& channel) override {
    const bool v5 = options_.protocol == kV5;
    bool input_open = options_.stdin;
    std::string resize_buffer;
    bool resize_ok = true;
    for (std::optional<ws::Message> m = connection_.Receive(); m.has_value();
         m = connection_.Receive()) {
      std::optional<std::pair<uint8_t, absl::string_view>> decoded = codec_.Decode(*m);
      if (!decoded.has_value()) continue;
      auto [number, data] = *decoded;
      if (number == kStdinChannel && input_open) {
        channel.WriteInput(data).IgnoreError();
      } else if (number == kResizeChannel && options_.tty && resize_ok) {
        resize_buffer.append(data.data(), data.size());
        absl::Status parsed = ParseResizeEvents(
            resize_buffer, [&](uint16_t w, uint16_t h) { channel.Resize(w, h).IgnoreError(); });
        if (!parsed.ok()) {
          OCID_LOG(kWarn) << "streaming: " << parsed.message();
          resize_ok = false;
        }
      } else if (number == kCloseSignal && v5 && data.size() == 1 &&
                 static_cast<uint8_t>(data[0]) == kStdinChannel && input_open) {
        input_open = false;
        channel.CloseInput();
      }
      // Anything else (an unknown channel, one not asked for) is ignored, as
      // kubelet does.
    }
    if (input_open) channel.CloseInput();
  }
  // Not waited for here: the client's messages come in one order, and
  // holding stdin back until a resize would need a queue of its own.
  TerminalSize AwaitFirstSize(absl::Duration) override { return {}; }
  void WaitGone() override { connection_.WaitDone(absl::InfiniteDuration()); }
  void Close() override { connection_.Close(); }

 private:
  static constexpr uint8_t kStdinChannel = 0, kStdoutChannel = 1, kStderrChannel = 2,
                           kErrorChannel = 3, kResizeChannel = 4, kCloseSignal = 255;
  static constexpr size_t kMaxChunk = 32 << 10;

  void Send(uint8_t number, absl::string_view data) {
    codec_.Send(connection_, number, data).IgnoreError();
  }

  ws::Connection& connection_;
  const RemoteCommandOptions& options_;
  const ws::ChannelCodec codec_;
};

}  // namespace

const std::vector<std::string> kRemoteCommandProtocols = {kV5, kV4, kV3, kV2,
                                                          "channel.k8s.io"};
const std::vector<std::string> kWebSocketRemoteCommandProtocols = {
    kV5, kV4, kV4Base64, "channel.k8s.io", "base64.channel.k8s.io"};

std::string StatusText(bool json, const absl::Status& error, std::optional<int> exit_code) {
  if (json) return StatusJson(error, exit_code);
  if (error.ok() && (!exit_code.has_value() || *exit_code == 0)) return "";
  // v1 to v3: the error's text, and nothing on success.
  return error.ok() ? absl::StrCat("command terminated with non-zero exit code: ", *exit_code)
                    : std::string(error.message());
}

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

void PumpRemoteCommand(CommandTransport& transport, bool tty, bool json_status,
                       const OpenChannel& open) {
  TerminalSize first = tty ? transport.AwaitFirstSize(kFirstSizeWait) : TerminalSize{};
  absl::StatusOr<std::unique_ptr<Channel>> opened = open(first);
  if (!opened.ok()) {
    transport.SendStatus(StatusText(json_status, opened.status(), std::nullopt));
    transport.EndOutput();
    transport.Close();
    return;
  }
  Channel& channel = **opened;
  // An attach's terminal was there before us: give it the size now.
  if (first.width > 0) channel.Resize(first.width, first.height).IgnoreError();

  // The client going away ends the command.
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    transport.WaitGone();
    if (!finished) channel.Cancel();
  });
  std::thread input([&] { transport.PumpInput(channel); });

  absl::Status failure;
  for (;;) {
    absl::StatusOr<Output> out = channel.ReadOutput();
    if (!out.ok()) {
      failure = out.status();
      break;
    }
    if (out->data.empty()) break;
    transport.SendOutput(
        out->kind == OutputKind::kStderr && !tty ? OutputKind::kStderr : OutputKind::kStdout,
        out->data);
  }
  transport.EndOutput();
  std::optional<int> exit_code;
  if (failure.ok()) {
    absl::StatusOr<std::optional<int>> waited = channel.Wait();
    if (waited.ok()) {
      exit_code = *waited;
    } else {
      failure = waited.status();
    }
  }
  transport.SendStatus(StatusText(json_status, failure, exit_code));
  finished = true;
  transport.Close();
  watcher.join();
  input.join();
}

void ServeRemoteCommand(spdy::Session& session, const RemoteCommandOptions& options,
                        const OpenChannel& open) {
  const bool json = options.protocol == kV5 || options.protocol == kV4;
  const bool with_resize = options.tty && (json || options.protocol == kV3);
  absl::StatusOr<Streams> streams = AwaitStreams(session, options, with_resize);
  if (!streams.ok()) {
    OCID_LOG(kWarn) << "streaming: " << streams.status().message();
    session.Close();
    return;
  }
  SpdyTransport transport(session, std::move(*streams), options.stdin);
  PumpRemoteCommand(transport, options.tty, json, open);
}

void ServeRemoteCommandWebSocket(ws::Connection& connection, const RemoteCommandOptions& options,
                                 const OpenChannel& open) {
  WebSocketTransport transport(connection, options);
  transport.Greet();
  // v4 and later report the exit status as JSON; the older ones as text.
  const bool json =
      options.protocol == kV5 || options.protocol == kV4 || options.protocol == kV4Base64;
  PumpRemoteCommand(transport, options.tty, json, open);
}

}  // namespace ocid::streaming
