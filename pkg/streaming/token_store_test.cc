#include "pkg/streaming/token_store.h"

#include <set>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ocid::streaming {
namespace {

class FakeClock {
 public:
  absl::Time Now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1000000);
};

TEST(TokenStoreTest, TokenIsSingleUse) {
  FakeClock clock;
  TokenStore<std::string> store(absl::Minutes(1),
                                [&clock] { return clock.Now(); });
  std::string token = store.Insert("exec c1");
  auto first = store.Consume(token);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "exec c1");
  EXPECT_TRUE(absl::IsNotFound(store.Consume(token).status()));
}

TEST(TokenStoreTest, UnknownTokenIsNotFound) {
  FakeClock clock;
  TokenStore<int> store(absl::Minutes(1), [&clock] { return clock.Now(); });
  store.Insert(1);
  EXPECT_TRUE(absl::IsNotFound(store.Consume("nope").status()));
  EXPECT_TRUE(absl::IsNotFound(store.Consume("").status()));
}

TEST(TokenStoreTest, TokenExpiresAfterTtl) {
  FakeClock clock;
  TokenStore<int> store(absl::Minutes(1), [&clock] { return clock.Now(); });
  std::string early = store.Insert(1);
  std::string late = store.Insert(2);
  clock.Advance(absl::Seconds(59));
  auto got = store.Consume(early);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, 1);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(absl::IsNotFound(store.Consume(late).status()));
}

TEST(TokenStoreTest, InsertDropsExpiredEntries) {
  FakeClock clock;
  TokenStore<int> store(absl::Minutes(1), [&clock] { return clock.Now(); });
  store.Insert(1);
  store.Insert(2);
  EXPECT_EQ(store.Size(), 2u);
  clock.Advance(absl::Minutes(2));
  store.Insert(3);
  EXPECT_EQ(store.Size(), 1u);
}

TEST(TokenStoreTest, TokensAreLongAndDistinct) {
  FakeClock clock;
  TokenStore<int> store(absl::Minutes(1), [&clock] { return clock.Now(); });
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string token = store.Insert(i);
    // At least 128 random bits: 32 hex digits.
    EXPECT_GE(token.size(), 32u);
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(seen.insert(token).second) << token;
  }
}

}  // namespace
}  // namespace ocid::streaming
