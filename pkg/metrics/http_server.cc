#include "pkg/metrics/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <exception>

#include "absl/strings/str_cat.h"
#include "pkg/metrics/exposition.h"

namespace ocid {

class MetricsHttpServer::Handler : public CivetHandler {
 public:
  explicit Handler(std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
      : collectables_(std::move(collectables)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::vector<prometheus::MetricFamily> families;
    for (const std::shared_ptr<prometheus::Collectable>& collectable : collectables_) {
      for (prometheus::MetricFamily& family : collectable->Collect()) {
        families.push_back(std::move(family));
      }
    }
    const char* accept = mg_get_header(conn, "Accept");
    ExpositionFormat format = NegotiateExposition(accept == nullptr ? "" : accept);
    std::string body = Expose(format, families);
    // Status line and headers through civetweb, so it knows the response
    // is complete once the body's length is written.
    mg_send_http_ok(conn, ExpositionContentType(format).c_str(),
                    static_cast<long long>(body.size()));
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->handler_ = std::make_unique<Handler>(std::move(collectables));
  try {
    server->server_ = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "1"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint on ", listen, " cannot start: ", e.what()));
  }
  server->server_->addHandler("/metrics", server->handler_.get());
  std::vector<int> ports = server->server_->getListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint on ", listen, " listens nowhere"));
  }
  server->port_ = ports[0];
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (server_ != nullptr) server_->close();
}

}  // namespace ocid
