// Reads the logs of startup_bench, lifecycle_bench and census_bench (their
// "result:" lines) and prints issue 15's table. Exit status 0 when every
// target was met, 1 when one was missed or a number is missing, 2 on a bad
// argument. Run by bench/lean_bench.sh.
//
//   lean_bench_report LOG...
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "bench/bench_support.h"
#include "bench/lean_bench_table.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lean_bench_report LOG...\n");
    return 2;
  }
  std::string text;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      std::fprintf(stderr, "lean_bench_report: cannot read %s\n", argv[i]);
      return 2;
    }
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    text += '\n';
  }
  std::vector<ocid::TableRow> rows = ocid::LeanTableRows(ocid::ParseResults(text));
  std::fputs(ocid::FormatLeanTable(rows).c_str(), stdout);
  return ocid::AllTargetsMet(rows) ? 0 : 1;
}
