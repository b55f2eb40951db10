// Issue 15's one table: the "result:" lines of startup_bench, lifecycle_bench
// and census_bench (bench/lean_bench.sh runs them) judged against the issue's
// targets, one row per number the issue asks for.
#ifndef OCID_BENCH_LEAN_BENCH_TABLE_H_
#define OCID_BENCH_LEAN_BENCH_TABLE_H_

#include <map>
#include <string>
#include <vector>

namespace ocid {

enum class Verdict {
  kMet,
  kMissed,
  kReported,  // a number the issue asks for without a target
  kNoData,    // a row whose bench did not run or did not finish: counts as missed
  kHeading,   // column names for the rows below
};

struct TableRow {
  std::string name;
  std::string value;
  std::string target;  // "" for kReported
  Verdict verdict = Verdict::kNoData;
  std::string note;  // beside the verdict, e.g. the old absolute target's
};

// The rows, in the order: idle RSS, start-up, RSS with 10/50/200
// pods, per phase and runtime (runc, crun) ocid and floor p50/p99 with the
// overhead in ms and in % of the floor p50, then the census's leaks per kind
// and its RSS growth from the sample to the end.
std::vector<TableRow> LeanTableRows(const std::map<std::string, double>& results);

// The rows as aligned text, then one line counting met, MISSED and no data.
std::string FormatLeanTable(const std::vector<TableRow>& rows);

// True when every row with a target met it (no MISSED, no missing data).
bool AllTargetsMet(const std::vector<TableRow>& rows);

}  // namespace ocid

#endif  // OCID_BENCH_LEAN_BENCH_TABLE_H_
