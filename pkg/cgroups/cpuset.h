// cpuset values checked against the machine before anything is applied:
// a CPU or memory node the machine lacks would otherwise surface as the
// kernel's EINVAL from deep inside the runtime's create or update.
#ifndef OCID_PKG_CGROUPS_CPUSET_H_
#define OCID_PKG_CGROUPS_CPUSET_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

// A kernel list ("0-3,8,10-11", as in cpuset.cpus) as ascending ranges,
// each [first, last]. InvalidArgument (naming `field`) when malformed: an
// empty item, a reversed range, a number that is not one.
using CpuRanges = std::vector<std::pair<int, int>>;
absl::StatusOr<CpuRanges> ParseCpuList(absl::string_view field, absl::string_view list);

// The machine's CPUs and memory nodes that are online.
struct MachineCpus {
  CpuRanges cpus;
  CpuRanges mems;
};

// Read from `sys` (normally /sys/devices/system): cpu/online, and
// node/online where the kernel has NUMA (else node 0 alone).
absl::StatusOr<MachineCpus> ReadMachineCpus(const std::string& sys = "/sys/devices/system");

// Checks `cpus` and `mems` (either may be empty: not set) against the
// machine. InvalidArgument naming `field_prefix` + "cpuset_cpus" (or
// "cpuset_mems"), the value and the first CPU or node the machine lacks.
absl::Status CheckCpuset(absl::string_view field_prefix, absl::string_view cpus,
                         absl::string_view mems, const MachineCpus& machine);

}  // namespace ocid

#endif  // OCID_PKG_CGROUPS_CPUSET_H_
