#include "pkg/metrics/civetweb_api.h"

#include "debian/civetweb_soname.h"
#include "pkg/base/shared_library.h"

namespace ocid {
namespace {

absl::Status Resolve(const SharedLibrary& library, CivetwebApi& api) {
#define OCID_RESOLVE_CIVETWEB(member) RETURN_IF_ERROR(library.Resolve("mg_" #member, api.member))
  OCID_RESOLVE_CIVETWEB(exit_library);
  OCID_RESOLVE_CIVETWEB(get_header);
  OCID_RESOLVE_CIVETWEB(get_request_info);
  OCID_RESOLVE_CIVETWEB(get_server_ports);
  OCID_RESOLVE_CIVETWEB(init_library);
  OCID_RESOLVE_CIVETWEB(send_http_error);
  OCID_RESOLVE_CIVETWEB(set_request_handler);
  OCID_RESOLVE_CIVETWEB(start2);
  OCID_RESOLVE_CIVETWEB(stop);
  OCID_RESOLVE_CIVETWEB(write);
#undef OCID_RESOLVE_CIVETWEB
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const CivetwebApi*> LoadCivetweb() {
  return LoadOnce<CivetwebApi>(ocid_debian::kCivetwebSoname, &Resolve);
}

}  // namespace ocid
