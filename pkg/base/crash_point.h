// Test-only crash points: `CrashPoint("run_pod.cni_added")` ends ocid at
// once (_exit(137), as a SIGKILL would: no destructors, no undo) when the
// environment variable OCID_TEST_CRASH_AT equals the point's name. The e2e
// tests use them to crash ocid between two steps of a call and check that
// the restarted ocid finishes or undoes what was left (docs/ARCHITECTURE.md,
// "Pods and containers"). Release builds (-c opt, NDEBUG) compile them to
// nothing.
#ifndef OCID_PKG_BASE_CRASH_POINT_H_
#define OCID_PKG_BASE_CRASH_POINT_H_

namespace ocid {

inline constexpr char kCrashPointEnv[] = "OCID_TEST_CRASH_AT";

#ifdef NDEBUG
inline void CrashPoint(const char*) {}
#else
// `name` is "<call>.<step done>", e.g. "create_container.rootfs_mounted".
void CrashPoint(const char* name);
#endif

}  // namespace ocid

#endif  // OCID_PKG_BASE_CRASH_POINT_H_
