#include "pkg/storage/lease.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(LeaseTest, ReleasesOnceWhenDestroyedAndMovesWithoutReleasing) {
  int released = 0;
  {
    Lease lease([&] { ++released; });
    Lease moved = std::move(lease);
    EXPECT_FALSE(lease.held());
    EXPECT_TRUE(moved.held());
    EXPECT_EQ(released, 0);
    Lease assigned;
    assigned = std::move(moved);
    EXPECT_EQ(released, 0);
  }
  EXPECT_EQ(released, 1);
}

TEST(LeaseTableTest, MarkSkipsHeldKeysAndTakeWaitsForTheMark) {
  LeaseTable table;
  Lease held = table.Take("a");
  EXPECT_TRUE(table.Held("a"));
  std::vector<std::string> marked = table.Mark({"a", "b"});
  ASSERT_EQ(marked, std::vector<std::string>{"b"});
  EXPECT_TRUE(table.Mark({"b"}).empty()) << "marked by another collection";

  std::atomic<bool> taken{false};
  std::thread taker([&] {
    Lease b = table.Take("b");
    taken = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(taken) << "a lease was taken on a key being collected";
  table.Unmark("b");
  taker.join();
  EXPECT_TRUE(taken);
  EXPECT_FALSE(table.Held("b")) << "released with its lease";
  held.Reset();
  EXPECT_FALSE(table.Held("a"));
  EXPECT_EQ(table.Mark({"a"}), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace ocid

namespace ocid {
namespace {

TEST(LeaseTableTest, TakeAllHoldsEveryKeyAndWaitsForMarksBeforeIt) {
  LeaseTable table;
  EXPECT_EQ(table.Mark({"a"}), std::vector<std::string>{"a"});
  std::atomic<bool> taken{false};
  std::thread all([&] {
    Lease lease = table.TakeAll();
    taken = true;
    // Held: nothing, not even a key never seen, is marked.
    EXPECT_TRUE(table.Mark({"a", "b"}).empty());
    EXPECT_TRUE(table.Held("b"));
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(taken);  // "a" is still being decided
  table.Unmark("a");
  all.join();
  EXPECT_TRUE(taken);
  EXPECT_FALSE(table.Held("b"));
  EXPECT_EQ(table.Mark({"b"}), std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace ocid
