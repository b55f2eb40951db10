// ocid's relative relocations are packed as DT_RELR (--pack-dyn-relocs=relr
// in BUILD.bazel): ~20 000 R_X86_64_RELATIVE entries (450 kB that the loader
// reads at every start and that stay mapped) become a few kB. glibc (2.36+)
// refuses a DT_RELR object unless it needs the GLIBC_ABI_DT_RELR version, and
// lld 14 does not add that need itself (lld 15's -z pack-relative-relocs
// does): referencing the version's own symbol makes the linker record it.
extern "C" char ocid_glibc_abi_dt_relr;
__asm__(".symver ocid_glibc_abi_dt_relr, GLIBC_ABI_DT_RELR@GLIBC_ABI_DT_RELR");

namespace ocid {
// Kept (also by --gc-sections) so the reference, and with it the version
// need, is not dropped.
extern const void* const kGlibcAbiDtRelr;
[[gnu::used, gnu::retain]] const void* const kGlibcAbiDtRelr = &ocid_glibc_abi_dt_relr;
}  // namespace ocid
