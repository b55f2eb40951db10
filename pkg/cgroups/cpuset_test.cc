#include "pkg/cgroups/cpuset.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "pkg/base/fs.h"

namespace ocid {
namespace {

TEST(CpusetTest, ParsesKernelLists) {
  EXPECT_EQ(ParseCpuList("f", "0-3,8,10-11").value(), (CpuRanges{{0, 3}, {8, 8}, {10, 11}}));
  EXPECT_EQ(ParseCpuList("f", " 5, 1-2\n").value(), (CpuRanges{{1, 2}, {5, 5}}));
  EXPECT_TRUE(ParseCpuList("f", "").value().empty());
  for (const char* bad : {"a", "1,,2", "3-1", "-1", "1-", "1-x", "1.5", "0-3,", "1-2-3"}) {
    absl::StatusOr<CpuRanges> parsed = ParseCpuList("the.field", bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("the.field"), absl::string_view::npos) << bad;
  }
}

TEST(CpusetTest, RefusesCpusAndNodesTheMachineLacksNamingTheField) {
  MachineCpus machine{{{0, 1}}, {{0, 0}}};
  EXPECT_TRUE(CheckCpuset("linux.", "", "", machine).ok());
  EXPECT_TRUE(CheckCpuset("linux.", "0-1", "0", machine).ok());
  EXPECT_TRUE(CheckCpuset("linux.", "1", "", machine).ok());

  absl::Status cpus = CheckCpuset("config.linux.resources.", "0-3", "", machine);
  EXPECT_EQ(cpus.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cpus.message(),
            "config.linux.resources.cpuset_cpus: \"0-3\" names CPU 2, which this machine does "
            "not have (CPUs online: 0-1)");
  // A huge range is refused at its first missing CPU, without walking it.
  EXPECT_NE(CheckCpuset("linux.", "1-2000000000", "", machine).message().find("CPU 2,"),
            absl::string_view::npos);
  absl::Status mems = CheckCpuset("linux.", "0", "1", machine);
  EXPECT_EQ(mems.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mems.message().find("linux.cpuset_mems: \"1\" names memory node 1"),
            absl::string_view::npos)
      << mems;
  EXPECT_NE(CheckCpuset("linux.", "x", "", machine).message().find("linux.cpuset_cpus"),
            absl::string_view::npos);

  // A hole in the online CPUs (one taken offline).
  MachineCpus holed{{{0, 1}, {3, 3}}, {{0, 0}}};
  EXPECT_TRUE(CheckCpuset("linux.", "3", "", holed).ok());
  EXPECT_NE(CheckCpuset("linux.", "1-3", "", holed).message().find("CPU 2,"),
            absl::string_view::npos);
}

TEST(CpusetTest, ReadsTheMachinesOnlineLists) {
  char dir[] = "/tmp/ocid-cpuset-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string sys = dir;
  ASSERT_TRUE(MakeDirs(sys + "/cpu", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(sys + "/cpu/online", "0-5,7\n").ok());
  absl::StatusOr<MachineCpus> machine = ReadMachineCpus(sys);
  ASSERT_TRUE(machine.ok()) << machine.status();
  EXPECT_EQ(machine->cpus, (CpuRanges{{0, 5}, {7, 7}}));
  EXPECT_EQ(machine->mems, (CpuRanges{{0, 0}})) << "no NUMA: node 0";
  ASSERT_TRUE(MakeDirs(sys + "/node", 0755).ok());
  ASSERT_TRUE(WriteFileAtomically(sys + "/node/online", "0-1\n").ok());
  EXPECT_EQ(ReadMachineCpus(sys)->mems, (CpuRanges{{0, 1}}));
  ASSERT_TRUE(RemoveAll(sys).ok());
  EXPECT_FALSE(ReadMachineCpus(sys).ok());

  absl::StatusOr<MachineCpus> host = ReadMachineCpus();
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_FALSE(host->cpus.empty());
}

}  // namespace
}  // namespace ocid
