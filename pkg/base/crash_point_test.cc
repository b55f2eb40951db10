#include "pkg/base/crash_point.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace ocid {
namespace {

TEST(CrashPointTest, ExitsOnlyAtTheNamedPoint) {
#ifdef NDEBUG
  GTEST_SKIP() << "crash points are compiled out of release builds";
#endif
  ASSERT_EQ(::setenv(kCrashPointEnv, "call.step_two", 1), 0);
  CrashPoint("call.step_one");  // another point: nothing happens
  CrashPoint("call.step");      // a prefix is not the name
  EXPECT_EXIT(CrashPoint("call.step_two"), ::testing::ExitedWithCode(137),
              "test crash point call.step_two");
  ASSERT_EQ(::unsetenv(kCrashPointEnv), 0);
  CrashPoint("call.step_two");  // unset: nothing happens
}

}  // namespace
}  // namespace ocid
