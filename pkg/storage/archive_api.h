// The libarchive functions layer unpacking (pkg/storage) and checkpoint
// archives (pkg/checkpoint) call, resolved from libarchive.so.<N> the first
// time one is needed: an idle ocid maps neither libarchive nor the ICU,
// libxml2 and compression libraries it brings.
#ifndef OCID_PKG_STORAGE_ARCHIVE_API_H_
#define OCID_PKG_STORAGE_ARCHIVE_API_H_

#include <archive.h>
#include <archive_entry.h>

#include "absl/status/statusor.h"

namespace ocid {

// Each member has the type archive.h or archive_entry.h declares for
// archive_<member>.
struct ArchiveApi {
  decltype(&::archive_entry_atime) entry_atime;
  decltype(&::archive_entry_atime_is_set) entry_atime_is_set;
  decltype(&::archive_entry_atime_nsec) entry_atime_nsec;
  decltype(&::archive_entry_copy_stat) entry_copy_stat;
  decltype(&::archive_entry_filetype) entry_filetype;
  decltype(&::archive_entry_free) entry_free;
  decltype(&::archive_entry_gid) entry_gid;
  decltype(&::archive_entry_hardlink) entry_hardlink;
  decltype(&::archive_entry_mtime) entry_mtime;
  decltype(&::archive_entry_mtime_nsec) entry_mtime_nsec;
  decltype(&::archive_entry_new) entry_new;
  decltype(&::archive_entry_pathname) entry_pathname;
  decltype(&::archive_entry_perm) entry_perm;
  decltype(&::archive_entry_set_pathname) entry_set_pathname;
  decltype(&::archive_entry_set_size) entry_set_size;
  decltype(&::archive_entry_set_symlink) entry_set_symlink;
  decltype(&::archive_entry_size) entry_size;
  decltype(&::archive_entry_sparse_next) entry_sparse_next;
  decltype(&::archive_entry_sparse_reset) entry_sparse_reset;
  decltype(&::archive_entry_symlink) entry_symlink;
  decltype(&::archive_entry_uid) entry_uid;
  decltype(&::archive_entry_xattr_next) entry_xattr_next;
  decltype(&::archive_entry_xattr_reset) entry_xattr_reset;
  decltype(&::archive_errno) errno_value;  // errno is a macro
  decltype(&::archive_error_string) error_string;
  decltype(&::archive_read_data) read_data;
  decltype(&::archive_read_data_block) read_data_block;
  decltype(&::archive_read_free) read_free;
  decltype(&::archive_read_new) read_new;
  decltype(&::archive_read_next_header) read_next_header;
  decltype(&::archive_read_open) read_open;
  decltype(&::archive_read_open_fd) read_open_fd;
  decltype(&::archive_read_support_filter_gzip) read_support_filter_gzip;
  decltype(&::archive_read_support_filter_zstd) read_support_filter_zstd;
  decltype(&::archive_read_support_format_raw) read_support_format_raw;
  decltype(&::archive_read_support_format_tar) read_support_format_tar;
  decltype(&::archive_set_error) set_error;
  decltype(&::archive_write_add_filter_none) write_add_filter_none;
  decltype(&::archive_write_close) write_close;
  decltype(&::archive_write_data) write_data;
  decltype(&::archive_write_free) write_free;
  decltype(&::archive_write_header) write_header;
  decltype(&::archive_write_new) write_new;
  decltype(&::archive_write_open_fd) write_open_fd;
  decltype(&::archive_write_set_format_pax_restricted) write_set_format_pax_restricted;
};

// The table; loaded once, thread-safe. FailedPrecondition
// "libarchive.so.13 cannot be loaded: ..." (or naming a missing symbol)
// when libarchive is not installed as the build expects.
absl::StatusOr<const ArchiveApi*> LoadArchive();

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_ARCHIVE_API_H_
