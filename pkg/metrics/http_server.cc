#include "pkg/metrics/http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "pkg/base/status_macros.h"
#include "pkg/metrics/civetweb_api.h"
#include "pkg/metrics/exposition.h"

namespace ocid {

MetricsHttpServer::MetricsHttpServer(
    const CivetwebApi* api, std::vector<std::shared_ptr<prometheus::Collectable>> collectables)
    : api_(api), collectables_(std::move(collectables)) {
  // Reference counted by civetweb; undone in the destructor.
  api_->init_library(0);
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  ASSIGN_OR_RETURN(const CivetwebApi* api, LoadCivetweb());
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(api, std::move(collectables)));
  // Keep-alive off (civetweb's default, pinned here): HandleMetrics writes
  // its response whole and says "Connection: close".
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "1",
                           "enable_keep_alive", "no", nullptr};
  mg_init_data init{};
  init.configuration_options = options;
  char reason[256] = "";
  unsigned code = 0;
  mg_error_data error{&code, reason, sizeof(reason)};
  server->context_ = api->start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint on ", listen, " cannot start: ",
                                               reason[0] != '\0' ? reason : "civetweb refused"));
  }
  api->set_request_handler(server->context_, "/metrics", &MetricsHttpServer::HandleMetrics,
                           server.get());
  mg_server_port ports[4] = {};
  if (api->get_server_ports(server->context_, 4, ports) < 1) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint on ", listen, " listens nowhere"));
  }
  server->port_ = ports[0].port;
  return server;
}

int MetricsHttpServer::HandleMetrics(mg_connection* conn, void* self) {
  const MetricsHttpServer& server = *static_cast<const MetricsHttpServer*>(self);
  const CivetwebApi& api = *server.api_;
  const mg_request_info* request = api.get_request_info(conn);
  bool head = std::strcmp(request->request_method, "HEAD") == 0;
  if (!head && std::strcmp(request->request_method, "GET") != 0) {
    api.send_http_error(conn, 405, "%s", "only GET and HEAD are served\n");
    return 405;
  }
  std::vector<prometheus::MetricFamily> families;
  for (const std::shared_ptr<prometheus::Collectable>& collectable : server.collectables_) {
    for (prometheus::MetricFamily& family : collectable->Collect()) {
      families.push_back(std::move(family));
    }
  }
  const char* accept = api.get_header(conn, "Accept");
  ExpositionFormat format = NegotiateExposition(accept == nullptr ? "" : accept);
  std::string body = Expose(format, families);
  // The status line, the headers mg_send_http_ok would send, and the body in
  // one write: civetweb sends each header line by itself, ten loopback TCP
  // segments (and ten wake-ups of the scraper) a scrape instead of one.
  std::string response = absl::StrCat(
      "HTTP/", request->http_version, " 200 OK\r\n",
      "Cache-Control: no-cache, no-store, must-revalidate, private, max-age=0\r\n",
      "Expires: 0\r\nPragma: no-cache\r\n",
      "Content-Type: ", ExpositionContentType(format), "\r\n",
      "Content-Length: ", body.size(), "\r\n",
      "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone()),
      "\r\n", "Connection: close\r\n\r\n");
  if (!head) response += body;
  api.write(conn, response.data(), response.size());
  return 200;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ != nullptr) api_->stop(context_);
  api_->exit_library();
}

}  // namespace ocid
