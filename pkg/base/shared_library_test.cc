#include "pkg/base/shared_library.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

using ::testing::HasSubstr;

// In every glibc install.
constexpr char kLibm[] = "libm.so.6";

TEST(SharedLibraryTest, MissingSonameIsAClearError) {
  absl::StatusOr<SharedLibrary> library = SharedLibrary::Open("libocid-no-such-lib.so.7");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(library.status().message(), HasSubstr("libocid-no-such-lib.so.7 cannot be loaded: "));
  EXPECT_THAT(library.status().message(), HasSubstr("No such file"));
}

TEST(SharedLibraryTest, ResolvesAFunctionWithItsDeclaredType) {
  absl::StatusOr<SharedLibrary> library = SharedLibrary::Open(kLibm);
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ(library->soname(), kLibm);
  double (*cube_root)(double) = nullptr;
  ASSERT_TRUE(library->Resolve("cbrt", cube_root).ok());
  EXPECT_DOUBLE_EQ(cube_root(27.0), 3.0);
}

TEST(SharedLibraryTest, MissingSymbolNamesLibraryAndSymbol) {
  absl::StatusOr<SharedLibrary> library = SharedLibrary::Open(kLibm);
  ASSERT_TRUE(library.ok()) << library.status();
  double (*function)(double) = nullptr;
  absl::Status status = library->Resolve("ocid_no_such_function", function);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("libm.so.6 has no symbol ocid_no_such_function: "));
  EXPECT_EQ(function, nullptr);
}

struct MathTable {
  double (*cbrt)(double);
};

std::atomic<int> math_resolves{0};

absl::Status ResolveMath(const SharedLibrary& library, MathTable& table) {
  ++math_resolves;
  return library.Resolve("cbrt", table.cbrt);
}

TEST(LoadOnceTest, ConcurrentFirstCallsLoadOnceAndShareTheTable) {
  std::vector<const MathTable*> tables(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < tables.size(); ++i) {
    threads.emplace_back([&tables, i] {
      absl::StatusOr<const MathTable*> table = LoadOnce<MathTable>(kLibm, &ResolveMath);
      if (table.ok()) tables[i] = *table;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(math_resolves.load(), 1);
  ASSERT_NE(tables[0], nullptr);
  for (const MathTable* table : tables) EXPECT_EQ(table, tables[0]);
  EXPECT_DOUBLE_EQ(tables[0]->cbrt(8.0), 2.0);
}

struct MissingTable {
  double (*function)(double);
};

absl::Status ResolveMissing(const SharedLibrary& library, MissingTable& table) {
  return library.Resolve("ocid_no_such_function", table.function);
}

TEST(LoadOnceTest, AFailedLoadIsAnErrorEveryTime) {
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<const MissingTable*> table = LoadOnce<MissingTable>(kLibm, &ResolveMissing);
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(table.status().message(), HasSubstr("has no symbol ocid_no_such_function"));
  }
}

struct AbsentTable {
  int unused;
};

absl::Status ResolveNothing(const SharedLibrary&, AbsentTable&) { return absl::OkStatus(); }

TEST(LoadOnceTest, AnAbsentLibraryIsAnError) {
  absl::StatusOr<const AbsentTable*> table =
      LoadOnce<AbsentTable>("libocid-no-such-lib.so.7", &ResolveNothing);
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("libocid-no-such-lib.so.7 cannot be loaded"));
}

}  // namespace
}  // namespace ocid
