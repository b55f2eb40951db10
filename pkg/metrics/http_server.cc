#include "pkg/metrics/http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/strings/str_cat.h"
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
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "1", nullptr};
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
  // Status line and headers through civetweb, so it knows the response is
  // complete once the body's length is written.
  api.send_http_ok(conn, ExpositionContentType(format).c_str(),
                   static_cast<long long>(body.size()));
  if (!head) api.write(conn, body.data(), body.size());
  return 200;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ != nullptr) api_->stop(context_);
  api_->exit_library();
}

}  // namespace ocid
