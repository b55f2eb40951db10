// The HTTP side of the metrics endpoint: GET /metrics on civetweb (the
// server prometheus-cpp's own Exposer runs on), answered in the format the
// scrape's Accept header asks for (exposition.h). Our own handler instead of
// prometheus-cpp's Exposer because the Exposer only ever writes the
// Prometheus text format and hides the request from its caller.
#ifndef OCID_PKG_METRICS_HTTP_SERVER_H_
#define OCID_PKG_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

class CivetServer;

namespace ocid {

class MetricsHttpServer {
 public:
  // Listens on `listen` ("ADDRESS:PORT") with one thread and serves the
  // families of `collectables`, collected at each scrape in this order.
  // Unavailable, naming the address and civetweb's reason, when it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  // Stops serving; no scrape runs past it.
  ~MetricsHttpServer();

  // The port listened on.
  int port() const { return port_; }

  class Handler;

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_METRICS_HTTP_SERVER_H_
