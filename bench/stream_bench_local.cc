// Port-forward throughput on loopback without ocid, pods or root: the
// streaming server and the PortForwarder of pkg/streaming between a writer
// and a sink thread, against the writer straight into the sink. For trying
// changes to the copy path quickly; bench/stream_bench.sh measures the real
// path (the sink in a pod's netns, ocid's own server) and is the one that
// counts for issue 12.
//   bazel run -c opt //bench:stream_bench_local -- [--copies 5] [--megabytes 100]
//       [--read-kib 4]   (the sink's read size; busybox cat reads 4 KiB)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "pkg/base/status_macros.h"
#include "pkg/base/unique_fd.h"
#include "pkg/streaming/client.h"
#include "pkg/streaming/server.h"

namespace ocid {
namespace {

struct Options {
  int copies = 5;
  int megabytes = 100;
  int read_kib = 4;
};

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

absl::StatusOr<UniqueFd> Connect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = Loopback(port);
  if (!fd.valid() ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "connect");
  }
  return fd;
}

// A listener whose every connection a thread reads to its end, `read_size`
// bytes a read, then closes (as `nc -ll -e cat` does).
class Sink {
 public:
  static absl::StatusOr<std::unique_ptr<Sink>> Start(size_t read_size) {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = Loopback(0);
    socklen_t length = sizeof(address);
    if (!listener.valid() ||
        ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener.get(), 16) != 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return absl::ErrnoToStatus(errno, "listen");
    }
    return std::unique_ptr<Sink>(new Sink(std::move(listener), ntohs(address.sin_port), read_size));
  }
  ~Sink() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  Sink(UniqueFd listener, int port, size_t read_size)
      : listener_(std::move(listener)), port_(port), read_size_(read_size) {
    thread_ = std::thread([this] {
      for (;;) {
        int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::thread([fd, size = read_size_] {
          std::unique_ptr<char[]> buffer(new char[size]);
          while (::read(fd, buffer.get(), size) > 0) {
          }
          ::close(fd);
        }).detach();
      }
    });
  }
  UniqueFd listener_;
  int port_;
  size_t read_size_;
  std::thread thread_;
};

class LoopbackBackend : public streaming::Backend {
 public:
  explicit LoopbackBackend(int sink_port) : sink_port_(sink_port) {}
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Exec(const streaming::ExecRequest&,
                                                           streaming::TerminalSize) override {
    return absl::UnimplementedError("exec");
  }
  absl::StatusOr<std::unique_ptr<streaming::Channel>> Attach(
      const streaming::AttachRequest&) override {
    return absl::UnimplementedError("attach");
  }
  absl::StatusOr<UniqueFd> DialPod(const std::string&, int32_t) override {
    ASSIGN_OR_RETURN(UniqueFd fd, Connect(sink_port_));
    int one = 1;  // as ocid's dial
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }

 private:
  int sink_port_;
};

absl::StatusOr<double> ForwardedCopy(streaming::PortForwarder& forwarder, size_t bytes) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::ErrnoToStatus(errno, "listen");
  }
  ASSIGN_OR_RETURN(UniqueFd client, Connect(ntohs(address.sin_port)));
  UniqueFd local(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  absl::Status forwarded;
  std::thread forward([&] { forwarded = forwarder.Forward(local.get(), 1); });
  absl::StatusOr<double> rate = PushThrough(client.get(), bytes);
  if (!rate.ok()) ::shutdown(local.get(), SHUT_RDWR);
  forward.join();
  RETURN_IF_ERROR(forwarded);
  return rate;
}

// CPU seconds this process used so far (all its threads, user and kernel).
double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                               absl::DurationFromTimeval(usage.ru_stime));
}

absl::Status Run(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Sink> sink,
                   Sink::Start(static_cast<size_t>(options.read_kib) << 10));
  LoopbackBackend backend(sink->port());
  ASSIGN_OR_RETURN(std::unique_ptr<streaming::Server> server,
                   streaming::Server::Start(streaming::ServerOptions(), &backend));
  ASSIGN_OR_RETURN(
      std::unique_ptr<streaming::PortForwarder> forwarder,
      streaming::PortForwarder::Dial(server->PortForwardUrl(streaming::PortForwardRequest{"pod"})));
  const size_t bytes = static_cast<size_t>(options.megabytes) << 20;
  std::vector<double> forwarded, direct, forwarded_cpu, direct_cpu;  // MiB/s, CPU ms/copy
  for (int i = -1; i < options.copies; ++i) {                        // one untimed round first
    for (int k = 0; k < 2; ++k) {
      bool forward_side = (k + std::max(i, 0)) % 2 == 0;
      absl::StatusOr<double> rate = absl::InternalError("");
      double cpu = CpuSeconds();
      if (forward_side) {
        rate = ForwardedCopy(*forwarder, bytes);
      } else {
        ASSIGN_OR_RETURN(UniqueFd fd, Connect(sink->port()));
        rate = PushThrough(fd.get(), bytes);
      }
      RETURN_IF_ERROR(rate.status());
      if (i < 0) continue;
      (forward_side ? forwarded : direct).push_back(*rate);
      (forward_side ? forwarded_cpu : direct_cpu).push_back(1000 * (CpuSeconds() - cpu));
    }
  }
  double f = Percentile(forwarded, 50), d = Percentile(direct, 50);
  std::printf("loopback port-forward of %d MiB, sink reads %d KiB, %d copies per side, MiB/s p50\n",
              options.megabytes, options.read_kib, options.copies);
  std::printf("  forwarded %8.1f  direct %8.1f  ratio %5.1f %%\n", f, d, 100 * f / d);
  std::printf("  CPU ms per copy, p50: forwarded %.1f  direct %.1f\n",
              Percentile(forwarded_cpu, 50), Percentile(direct_cpu, 50));
  return absl::OkStatus();
}

}  // namespace
}  // namespace ocid

int main(int argc, char** argv) {
  ocid::Options options;
  if (!ocid::ParseBenchFlags(argc, argv,
                             {{"--copies", ocid::CountFlag(&options.copies)},
                              {"--megabytes", ocid::CountFlag(&options.megabytes)},
                              {"--read-kib", ocid::CountFlag(&options.read_kib)}})) {
    std::fprintf(stderr,
                 "usage: stream_bench_local [--copies 5] [--megabytes 100] [--read-kib 4]\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  absl::Status status = ocid::Run(options);
  if (!status.ok()) {
    std::fprintf(stderr, "stream_bench_local: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
