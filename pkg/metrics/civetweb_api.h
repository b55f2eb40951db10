// The civetweb functions the metrics endpoint calls, resolved from
// libcivetweb.so.<N> when the endpoint first starts: an ocid with metrics
// off (the default) never maps the HTTP server.
#ifndef OCID_PKG_METRICS_CIVETWEB_API_H_
#define OCID_PKG_METRICS_CIVETWEB_API_H_

#include <civetweb.h>

#include "absl/status/statusor.h"

namespace ocid {

// Each member has the type civetweb.h declares for mg_<member>.
struct CivetwebApi {
  decltype(&::mg_exit_library) exit_library;
  decltype(&::mg_get_header) get_header;
  decltype(&::mg_get_request_info) get_request_info;
  decltype(&::mg_get_server_ports) get_server_ports;
  decltype(&::mg_init_library) init_library;
  decltype(&::mg_send_http_error) send_http_error;
  decltype(&::mg_set_request_handler) set_request_handler;
  decltype(&::mg_start2) start2;
  decltype(&::mg_stop) stop;
  decltype(&::mg_write) write;
};

// The table; loaded once, thread-safe. FailedPrecondition
// "libcivetweb.so.1 cannot be loaded: ..." (or naming a missing symbol)
// when civetweb is not installed as the build expects.
absl::StatusOr<const CivetwebApi*> LoadCivetweb();

}  // namespace ocid

#endif  // OCID_PKG_METRICS_CIVETWEB_API_H_
