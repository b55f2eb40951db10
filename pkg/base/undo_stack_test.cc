#include "pkg/base/undo_stack.h"

#include <string>

#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(UndoStackTest, RunsUndosInReverseWhenDestroyed) {
  std::string order;
  {
    UndoStack undo;
    undo.Push([&] { order += "a"; });
    undo.Push([&] { order += "b"; });
    undo.Push([&] { order += "c"; });
  }
  EXPECT_EQ(order, "cba");
}

TEST(UndoStackTest, DismissKeepsEverything) {
  int undone = 0;
  {
    UndoStack undo;
    undo.Push([&] { ++undone; });
    undo.Dismiss();
  }
  EXPECT_EQ(undone, 0);
}

TEST(UndoStackTest, RunAllRunsEachUndoOnce) {
  int undone = 0;
  {
    UndoStack undo;
    undo.Push([&] { ++undone; });
    undo.RunAll();
    EXPECT_EQ(undone, 1);
  }
  EXPECT_EQ(undone, 1);
}

}  // namespace
}  // namespace ocid
