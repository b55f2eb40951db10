// The gpgme functions simple signing calls, resolved from libgpgme.so.<N>
// the first time a signedBy requirement is checked: an idle ocid maps
// neither gpgme nor libassuan and libgpg-error.
#ifndef OCID_PKG_TRUST_GPGME_API_H_
#define OCID_PKG_TRUST_GPGME_API_H_

#include <gpgme.h>

#include "absl/status/statusor.h"

namespace ocid {

// Each member has the type gpgme.h declares for gpgme_<member>.
// (gpgme_err_code is an inline function of the header, not a symbol.)
struct GpgmeApi {
  decltype(&::gpgme_check_version_internal) check_version_internal;
  decltype(&::gpgme_engine_check_version) engine_check_version;
  decltype(&::gpgme_strerror) strerror;
  decltype(&::gpgme_new) new_context;  // gpgme_new: `new` is a keyword
  decltype(&::gpgme_release) release;
  decltype(&::gpgme_set_protocol) set_protocol;
  decltype(&::gpgme_ctx_set_engine_info) ctx_set_engine_info;
  decltype(&::gpgme_data_new) data_new;
  decltype(&::gpgme_data_new_from_mem) data_new_from_mem;
  decltype(&::gpgme_data_release) data_release;
  decltype(&::gpgme_data_release_and_get_mem) data_release_and_get_mem;
  decltype(&::gpgme_free) free;
  decltype(&::gpgme_key_unref) key_unref;
  decltype(&::gpgme_op_import) op_import;
  decltype(&::gpgme_op_import_result) op_import_result;
  decltype(&::gpgme_op_keylist_start) op_keylist_start;
  decltype(&::gpgme_op_keylist_next) op_keylist_next;
  decltype(&::gpgme_op_keylist_end) op_keylist_end;
  decltype(&::gpgme_op_verify) op_verify;
  decltype(&::gpgme_op_verify_result) op_verify_result;
};

// The table, with gpgme's version check (its required first call) done;
// loaded once, thread-safe. FailedPrecondition "libgpgme.so.11 cannot be
// loaded: ..." (or naming a missing symbol) when gpgme is not installed as
// the build expects.
absl::StatusOr<const GpgmeApi*> LoadGpgme();

}  // namespace ocid

#endif  // OCID_PKG_TRUST_GPGME_API_H_
