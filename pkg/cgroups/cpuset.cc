#include "pkg/cgroups/cpuset.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pkg/base/fs.h"
#include "pkg/base/status_macros.h"

namespace ocid {
namespace {

std::string Show(const CpuRanges& ranges) {
  std::string text;
  for (const auto& [first, last] : ranges) {
    if (!text.empty()) text += ",";
    text += first == last ? absl::StrCat(first) : absl::StrCat(first, "-", last);
  }
  return text.empty() ? "none" : text;
}

bool Contains(const CpuRanges& ranges, int n) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [n](const auto& r) { return r.first <= n && n <= r.second; });
}

// The first number of `wanted` that `have` lacks; -1 when none. Walks the
// numbers of each range only as far as `have` reaches, so a huge range
// costs no more than the machine's CPUs.
int FirstMissing(const CpuRanges& wanted, const CpuRanges& have) {
  int top = have.empty() ? -1 : have.back().second;
  for (const auto& [first, last] : wanted) {
    for (int n = first; n <= last; ++n) {
      if (n > top || !Contains(have, n)) return n;
    }
  }
  return -1;
}

absl::Status CheckOne(absl::string_view field, absl::string_view value, const CpuRanges& have,
                      const char* what) {
  if (value.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(CpuRanges wanted, ParseCpuList(field, value));
  int missing = FirstMissing(wanted, have);
  if (missing < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": \"", value, "\" names ", what, " ",
                                                 missing, ", which this machine does not have (",
                                                 what, "s online: ", Show(have), ")"));
}

absl::StatusOr<CpuRanges> ReadList(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 1 << 16));
  return ParseCpuList(path, absl::StripAsciiWhitespace(text));
}

}  // namespace

absl::StatusOr<CpuRanges> ParseCpuList(absl::string_view field, absl::string_view list) {
  CpuRanges ranges;
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", list, "\" ", why));
  };
  list = absl::StripAsciiWhitespace(list);
  if (list.empty()) return ranges;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> bounds = absl::StrSplit(item, '-');
    size_t dashes = std::count(item.begin(), item.end(), '-');
    bool range = dashes == 1;
    if (dashes > 1) return invalid(absl::StrCat("has a malformed range (\"", item, "\")"));
    int first = 0, last = 0;
    if (!absl::SimpleAtoi(bounds.first, &first) || first < 0 ||
        (range && (!absl::SimpleAtoi(bounds.second, &last) || last < 0))) {
      return invalid(absl::StrCat("is not a list of numbers and ranges (\"", item, "\")"));
    }
    if (!range) last = first;
    if (last < first) return invalid(absl::StrCat("has a reversed range (\"", item, "\")"));
    ranges.emplace_back(first, last);
  }
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

absl::StatusOr<MachineCpus> ReadMachineCpus(const std::string& sys) {
  MachineCpus machine;
  ASSIGN_OR_RETURN(machine.cpus, ReadList(sys + "/cpu/online"));
  absl::StatusOr<CpuRanges> mems = ReadList(sys + "/node/online");
  if (absl::IsNotFound(mems.status())) {
    machine.mems = {{0, 0}};  // a kernel without NUMA has the one node
  } else if (!mems.ok()) {
    return mems.status();
  } else {
    machine.mems = *std::move(mems);
  }
  return machine;
}

absl::Status CheckCpuset(absl::string_view field_prefix, absl::string_view cpus,
                         absl::string_view mems, const MachineCpus& machine) {
  RETURN_IF_ERROR(CheckOne(absl::StrCat(field_prefix, "cpuset_cpus"), cpus, machine.cpus, "CPU"));
  return CheckOne(absl::StrCat(field_prefix, "cpuset_mems"), mems, machine.mems, "memory node");
}

}  // namespace ocid
