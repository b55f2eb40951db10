// The HTTP side of the metrics endpoint: GET /metrics on civetweb (the
// server prometheus-cpp's own Exposer runs on), answered in the format the
// scrape's Accept header asks for (exposition.h). Our own handler instead of
// prometheus-cpp's Exposer because the Exposer only ever writes the
// Prometheus text format and hides the request from its caller. civetweb's
// C API, loaded when the first server starts (civetweb_api.h).
#ifndef OCID_PKG_METRICS_HTTP_SERVER_H_
#define OCID_PKG_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

struct mg_connection;
struct mg_context;

namespace ocid {

struct CivetwebApi;

class MetricsHttpServer {
 public:
  // Listens on `listen` ("ADDRESS:PORT") with one thread and serves the
  // families of `collectables`, collected at each scrape in this order.
  // Unavailable, naming the address and civetweb's reason, when it cannot;
  // FailedPrecondition when civetweb cannot be loaded.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  // Stops serving; no scrape runs past it.
  ~MetricsHttpServer();

  // The port listened on.
  int port() const { return port_; }

 private:
  MetricsHttpServer(const CivetwebApi* api,
                    std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  // civetweb's request handler for /metrics; `self` is the server.
  static int HandleMetrics(mg_connection* conn, void* self);

  const CivetwebApi* const api_;
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace ocid

#endif  // OCID_PKG_METRICS_HTTP_SERVER_H_
