#include "pkg/trust/gpgme_api.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "debian/gpgme_soname.h"
#include "pkg/base/shared_library.h"

namespace ocid {
namespace {

absl::Status Resolve(const SharedLibrary& library, GpgmeApi& api) {
#define OCID_RESOLVE_GPGME(member) RETURN_IF_ERROR(library.Resolve("gpgme_" #member, api.member))
  OCID_RESOLVE_GPGME(check_version_internal);
  OCID_RESOLVE_GPGME(engine_check_version);
  OCID_RESOLVE_GPGME(strerror);
  RETURN_IF_ERROR(library.Resolve("gpgme_new", api.new_context));
  OCID_RESOLVE_GPGME(release);
  OCID_RESOLVE_GPGME(set_protocol);
  OCID_RESOLVE_GPGME(ctx_set_engine_info);
  OCID_RESOLVE_GPGME(data_new);
  OCID_RESOLVE_GPGME(data_new_from_mem);
  OCID_RESOLVE_GPGME(data_release);
  OCID_RESOLVE_GPGME(data_release_and_get_mem);
  OCID_RESOLVE_GPGME(free);
  OCID_RESOLVE_GPGME(key_unref);
  OCID_RESOLVE_GPGME(op_import);
  OCID_RESOLVE_GPGME(op_import_result);
  OCID_RESOLVE_GPGME(op_keylist_start);
  OCID_RESOLVE_GPGME(op_keylist_next);
  OCID_RESOLVE_GPGME(op_keylist_end);
  OCID_RESOLVE_GPGME(op_verify);
  OCID_RESOLVE_GPGME(op_verify_result);
#undef OCID_RESOLVE_GPGME
  // What the gpgme_check_version macro does: must come before any context
  // exists (it sets up gpgme's locks) and checks the struct layout this
  // code was compiled against.
  if (api.check_version_internal(nullptr, offsetof(struct _gpgme_signature, validity)) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(library.soname(), " does not match the gpgme.h ocid was built with"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const GpgmeApi*> LoadGpgme() {
  return LoadOnce<GpgmeApi>(ocid_debian::kGpgmeSoname, &Resolve);
}

}  // namespace ocid
