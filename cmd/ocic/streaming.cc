#include "cmd/ocic/streaming.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/client.h"

namespace ocid::ocic {
namespace {

namespace cri = ::runtime::v1;

// Our terminal in raw mode for as long as this lives: every key goes to
// the remote terminal, which echoes and edits.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// --transport spdy (the default) or websocket, as crictl's flag.
absl::StatusOr<bool> WantsWebSocket(const Invocation& in) {
  std::optional<std::string> transport = in.args.Flag("transport");
  if (!transport || *transport == "spdy") return false;
  if (*transport == "websocket") return true;
  return absl::InvalidArgumentError(
      absl::StrCat("--transport \"", *transport, "\" is neither spdy nor websocket"));
}

// Runs a remote command session with our stdio.
absl::Status RunSession(Invocation& in, const std::string& url, bool stdin, bool tty) {
  streaming::RemoteCommandIo io;
  ASSIGN_OR_RETURN(io.websocket, WantsWebSocket(in));
  io.tty = tty;
  if (stdin) io.stdin_fd = STDIN_FILENO;
  winsize size{};
  if (tty && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    io.sizes = {{size.ws_col, size.ws_row}};
  }
  if (tty && ::isatty(STDOUT_FILENO)) {
    // SIGWINCH (blocked in every thread since main) taken by a signalfd
    // becomes a resize of the remote terminal.
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    int fd = ::signalfd(-1, &winch, SFD_CLOEXEC);
    if (fd >= 0) {
      io.watch_resizes = [fd](std::function<void(uint16_t, uint16_t)> send) {
        signalfd_siginfo info;
        while (::read(fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
          winsize now{};
          if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &now) == 0) send(now.ws_col, now.ws_row);
        }
      };
    }
  }
  io.on_stdout = [&](absl::string_view data) { in.out << data << std::flush; };
  io.on_stderr = [&](absl::string_view data) { in.err << data << std::flush; };
  std::optional<RawTerminal> raw;
  if (tty && ::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
  ASSIGN_OR_RETURN(streaming::RemoteCommandResult result, streaming::RunRemoteCommand(url, io));
  raw.reset();
  if (!result.failure.empty()) return absl::UnknownError(result.failure);
  in.exit_code = result.exit_code;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RequiredId(const Invocation& in) {
  std::optional<std::string> id = in.args.Flag("id");
  if (!id || id->empty()) return absl::InvalidArgumentError("--id is required");
  return *id;
}

struct PortPair {
  int local = 0;
  int remote = 0;
};

absl::StatusOr<PortPair> ParsePortPair(const std::string& word) {
  std::vector<std::string> parts = absl::StrSplit(word, ':');
  PortPair pair;
  bool ok = parts.size() == 1 ? absl::SimpleAtoi(parts[0], &pair.local)
                              : parts.size() == 2 && absl::SimpleAtoi(parts[0], &pair.local) &&
                                    absl::SimpleAtoi(parts[1], &pair.remote);
  if (parts.size() == 1) pair.remote = pair.local;
  if (!ok || pair.local < 1 || pair.local > 65535 || pair.remote < 1 || pair.remote > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", word, "\" is not LOCAL:REMOTE or PORT (ports 1-65535)"));
  }
  return pair;
}

absl::StatusOr<UniqueFd> ListenLoopback(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, "socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("listen on 127.0.0.1:", port));
  }
  return fd;
}

}  // namespace

bool WantsInteractive(const Invocation& in) {
  return in.args.Has("i") || in.args.Has("interactive") || in.args.Has("it") ||
         in.args.Has("ti");
}

bool WantsTty(const Invocation& in) {
  return in.args.Has("t") || in.args.Has("tty") || in.args.Has("it") || in.args.Has("ti");
}

absl::Status CtrExecInteractive(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, RequiredId(in));
  if (in.args.rest.empty()) {
    return absl::InvalidArgumentError("no command given: ocic ctr exec -it --id ID -- CMD [ARG...]");
  }
  bool tty = WantsTty(in);
  cri::ExecRequest request;
  request.set_container_id(id);
  for (const std::string& word : in.args.rest) request.add_cmd(word);
  request.set_stdin(WantsInteractive(in));
  request.set_tty(tty);
  request.set_stdout(true);
  request.set_stderr(!tty);
  cri::ExecResponse response;
  RETURN_IF_ERROR(in.client.Call("Exec", [&](grpc::ClientContext& context) {
    return in.client.runtime().Exec(&context, request, &response);
  }));
  return RunSession(in, response.url(), request.stdin(), tty);
}

absl::Status CtrAttach(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, RequiredId(in));
  bool tty = WantsTty(in);
  cri::AttachRequest request;
  request.set_container_id(id);
  request.set_stdin(WantsInteractive(in));
  request.set_tty(tty);
  request.set_stdout(true);
  request.set_stderr(!tty);
  cri::AttachResponse response;
  RETURN_IF_ERROR(in.client.Call("Attach", [&](grpc::ClientContext& context) {
    return in.client.runtime().Attach(&context, request, &response);
  }));
  return RunSession(in, response.url(), request.stdin(), tty);
}

absl::Status PodPortForward(Invocation& in) {
  ASSIGN_OR_RETURN(std::string id, RequiredId(in));
  if (in.operands.empty()) {
    return absl::InvalidArgumentError(
        "no port given: ocic pod port-forward --id ID LOCAL:REMOTE [PORT]...");
  }
  std::vector<PortPair> pairs;
  for (const std::string& word : in.operands) {
    ASSIGN_OR_RETURN(PortPair pair, ParsePortPair(word));
    pairs.push_back(pair);
  }
  ASSIGN_OR_RETURN(bool websocket, WantsWebSocket(in));
  cri::PortForwardRequest request;
  request.set_pod_sandbox_id(id);
  for (const PortPair& pair : pairs) request.add_port(pair.remote);
  cri::PortForwardResponse response;
  RETURN_IF_ERROR(in.client.Call("PortForward", [&](grpc::ClientContext& context) {
    return in.client.runtime().PortForward(&context, request, &response);
  }));
  ASSIGN_OR_RETURN(std::unique_ptr<streaming::PortForwarder> forwarder,
                   websocket ? streaming::PortForwarder::DialWebSocket(response.url())
                             : streaming::PortForwarder::Dial(response.url()));
  std::vector<UniqueFd> listeners;
  for (const PortPair& pair : pairs) {
    ASSIGN_OR_RETURN(UniqueFd listener, ListenLoopback(pair.local));
    listeners.push_back(std::move(listener));
    in.out << "Forwarding from 127.0.0.1:" << pair.local << " -> " << pair.remote << std::endl;
  }
  // Until interrupted: each accepted connection forwarded on a thread of its
  // own; the process exit ends them all.
  std::vector<std::thread> acceptors;
  for (size_t i = 0; i < pairs.size(); ++i) {
    acceptors.emplace_back([&, i] {
      for (;;) {
        int conn = ::accept4(listeners[i].get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          return;
        }
        std::thread([&, conn, remote = pairs[i].remote] {
          UniqueFd owned(conn);
          absl::Status forwarded = forwarder->Forward(owned.get(), remote);
          if (!forwarded.ok()) in.err << forwarded.message() << std::endl;
        }).detach();
      }
    });
  }
  for (std::thread& t : acceptors) t.join();
  return absl::UnavailableError("the port-forward listeners closed");
}

}  // namespace ocid::ocic
