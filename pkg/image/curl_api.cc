#include "pkg/image/curl_api.h"

#include "absl/strings/str_cat.h"
#include "debian/curl_soname.h"
#include "pkg/base/shared_library.h"

namespace ocid {
namespace {

absl::Status Resolve(const SharedLibrary& library, CurlApi& api) {
#define OCID_RESOLVE_CURL(member) RETURN_IF_ERROR(library.Resolve("curl_" #member, api.member))
  OCID_RESOLVE_CURL(global_init);
  OCID_RESOLVE_CURL(easy_init);
  OCID_RESOLVE_CURL(easy_cleanup);
  OCID_RESOLVE_CURL(easy_setopt);
  OCID_RESOLVE_CURL(easy_getinfo);
  OCID_RESOLVE_CURL(easy_perform);
  OCID_RESOLVE_CURL(easy_strerror);
  OCID_RESOLVE_CURL(slist_append);
  OCID_RESOLVE_CURL(slist_free_all);
#undef OCID_RESOLVE_CURL
  // Not thread-safe and must precede every other call: done here, under
  // LoadOnce's lock, once per process.
  CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat(library.soname(), ": curl_global_init failed: ", api.easy_strerror(code)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const CurlApi*> LoadCurl() {
  return LoadOnce<CurlApi>(ocid_debian::kCurlSoname, &Resolve);
}

}  // namespace ocid
