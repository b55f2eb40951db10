#include "pkg/storage/archive_api.h"

#include "debian/archive_soname.h"
#include "pkg/base/shared_library.h"

namespace ocid {
namespace {

absl::Status Resolve(const SharedLibrary& library, ArchiveApi& api) {
#define OCID_RESOLVE_ARCHIVE(member) \
  RETURN_IF_ERROR(library.Resolve("archive_" #member, api.member))
  OCID_RESOLVE_ARCHIVE(entry_atime);
  OCID_RESOLVE_ARCHIVE(entry_atime_is_set);
  OCID_RESOLVE_ARCHIVE(entry_atime_nsec);
  OCID_RESOLVE_ARCHIVE(entry_copy_stat);
  OCID_RESOLVE_ARCHIVE(entry_filetype);
  OCID_RESOLVE_ARCHIVE(entry_free);
  OCID_RESOLVE_ARCHIVE(entry_gid);
  OCID_RESOLVE_ARCHIVE(entry_hardlink);
  OCID_RESOLVE_ARCHIVE(entry_mtime);
  OCID_RESOLVE_ARCHIVE(entry_mtime_nsec);
  OCID_RESOLVE_ARCHIVE(entry_new);
  OCID_RESOLVE_ARCHIVE(entry_pathname);
  OCID_RESOLVE_ARCHIVE(entry_perm);
  OCID_RESOLVE_ARCHIVE(entry_set_pathname);
  OCID_RESOLVE_ARCHIVE(entry_set_size);
  OCID_RESOLVE_ARCHIVE(entry_set_symlink);
  OCID_RESOLVE_ARCHIVE(entry_size);
  OCID_RESOLVE_ARCHIVE(entry_sparse_next);
  OCID_RESOLVE_ARCHIVE(entry_sparse_reset);
  OCID_RESOLVE_ARCHIVE(entry_symlink);
  OCID_RESOLVE_ARCHIVE(entry_uid);
  OCID_RESOLVE_ARCHIVE(entry_xattr_next);
  OCID_RESOLVE_ARCHIVE(entry_xattr_reset);
  RETURN_IF_ERROR(library.Resolve("archive_errno", api.errno_value));
  OCID_RESOLVE_ARCHIVE(error_string);
  OCID_RESOLVE_ARCHIVE(read_data);
  OCID_RESOLVE_ARCHIVE(read_data_block);
  OCID_RESOLVE_ARCHIVE(read_free);
  OCID_RESOLVE_ARCHIVE(read_new);
  OCID_RESOLVE_ARCHIVE(read_next_header);
  OCID_RESOLVE_ARCHIVE(read_open);
  OCID_RESOLVE_ARCHIVE(read_open_fd);
  OCID_RESOLVE_ARCHIVE(read_support_filter_gzip);
  OCID_RESOLVE_ARCHIVE(read_support_filter_zstd);
  OCID_RESOLVE_ARCHIVE(read_support_format_raw);
  OCID_RESOLVE_ARCHIVE(read_support_format_tar);
  OCID_RESOLVE_ARCHIVE(set_error);
  OCID_RESOLVE_ARCHIVE(write_add_filter_none);
  OCID_RESOLVE_ARCHIVE(write_close);
  OCID_RESOLVE_ARCHIVE(write_data);
  OCID_RESOLVE_ARCHIVE(write_free);
  OCID_RESOLVE_ARCHIVE(write_header);
  OCID_RESOLVE_ARCHIVE(write_new);
  OCID_RESOLVE_ARCHIVE(write_open_fd);
  OCID_RESOLVE_ARCHIVE(write_set_format_pax_restricted);
#undef OCID_RESOLVE_ARCHIVE
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const ArchiveApi*> LoadArchive() {
  return LoadOnce<ArchiveApi>(ocid_debian::kArchiveSoname, &Resolve);
}

}  // namespace ocid
