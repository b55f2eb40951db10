#include "pkg/base/record_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pkg/base/record_json.h"

namespace ocid {
namespace {

struct Counter {
  std::string id;
  int64_t n = 0;

  std::string Serialize() const {
    return nlohmann::json{{"version", kRecordVersion}, {"id", id}, {"n", n}}.dump();
  }
  static absl::StatusOr<Counter> Parse(const std::string& text) {
    absl::StatusOr<RecordReader> in = RecordReader::Parse(text, "counter");
    if (!in.ok()) return in.status();
    Counter c;
    in->Require("id", c.id);
    in->Read("n", c.n);
    if (!in->status().ok()) return in->status();
    return c;
  }
};

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(RecordStoreTest, ConcurrentUpdatesOfOneIdLoseNothingAndPublishInOrder) {
  std::string dir = TempDir("concurrent");
  RecordStore<Counter> store(dir);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Add({"c", 0}).ok());

  constexpr int kThreads = 8, kUpdates = 40;
  std::atomic<bool> done{false};
  std::atomic<bool> went_back{false};
  std::thread reader([&] {
    int64_t last = 0;
    while (!done) {
      int64_t now = store.Get("c")->n;
      if (now < last) went_back = true;
      last = now;
    }
  });
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kUpdates; ++i) {
        absl::StatusOr<Counter> c = store.Update("c", [](Counter& c) { ++c.n; });
        if (c.ok()) seen[t].push_back(c->n);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();

  // Every update saw the one before: the results are 1..N, each once.
  std::vector<int64_t> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t{kThreads * kUpdates});
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i + 1));
  EXPECT_FALSE(went_back) << "a reader saw an older value after a newer one";
  EXPECT_EQ(store.Get("c")->n, kThreads * kUpdates);

  // The file holds the last change, not one overtaken by it.
  RecordStore<Counter> reloaded(dir);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.Get("c")->n, kThreads * kUpdates);
}

TEST(RecordStoreTest, ReadersAndOtherRecordsDoNotWaitForAChangeInFlight) {
  RecordStore<Counter> store(TempDir("in-flight"));
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Add({"a", 1}).ok());
  ASSERT_TRUE(store.Add({"b", 1}).ok());

  absl::Notification changing, release;
  auto slow_change = [&](Counter& c) {
    changing.Notify();
    release.WaitForNotification();
    c.n = 2;
  };
  std::thread slow([&] { EXPECT_TRUE(store.Update("a", slow_change).ok()); });
  changing.WaitForNotification();

  absl::Notification others_done;
  int64_t a_seen = 0;
  std::thread others([&] {
    a_seen = store.Get("a")->n;
    store.List();
    store.ForEach([](const Counter&) {});
    (void)store.Update("b", [](Counter& c) { c.n = 5; });
    others_done.Notify();
  });
  bool finished = others_done.WaitForNotificationWithTimeout(absl::Seconds(10));
  release.Notify();
  slow.join();
  others.join();
  EXPECT_TRUE(finished) << "Get/List/Update of another record waited for a change in flight";
  EXPECT_EQ(a_seen, 1) << "a change was visible before it was written";
  EXPECT_EQ(store.Get("a")->n, 2);
  EXPECT_EQ(store.Get("b")->n, 5);
}

TEST(RecordStoreTest, ARemoveDuringAnUpdateLeavesTheRecordGone) {
  std::string dir = TempDir("remove-race");
  RecordStore<Counter> store(dir);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Add({"r", 0}).ok());

  absl::Notification changing, release;
  std::thread updater([&] {
    (void)store.Update("r", [&](Counter& c) {
      changing.Notify();
      release.WaitForNotification();
      ++c.n;
    });
  });
  changing.WaitForNotification();
  std::thread remover([&] { EXPECT_TRUE(store.Remove("r").ok()); });
  absl::SleepFor(absl::Milliseconds(50));  // let Remove reach the writer lock
  release.Notify();
  updater.join();
  remover.join();

  EXPECT_FALSE(store.Get("r").has_value());
  struct stat st;
  EXPECT_NE(::stat((dir + "/r.json").c_str(), &st), 0) << "the update wrote the file back";
}

TEST(RecordStoreTest, ABadRecordFailsTheLoadNamingItsFile) {
  std::string dir = TempDir("bad");
  ASSERT_TRUE(MakeDirs(dir, 0700).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/x.json", R"({"id": "x", "n": "three"})").ok());
  RecordStore<Counter> store(dir);
  absl::Status loaded = store.Load();
  EXPECT_EQ(loaded.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.message().find(dir + "/x.json"), std::string::npos) << loaded;
  EXPECT_NE(loaded.message().find("\"n\""), std::string::npos) << loaded;
}

// A record that can be marked for removal.
struct Doomed {
  std::string id;
  bool removing = false;

  std::string Serialize() const {
    return nlohmann::json{{"version", kRecordVersion}, {"id", id}, {"removing", removing}}.dump();
  }
  static absl::StatusOr<Doomed> Parse(const std::string& text) {
    absl::StatusOr<RecordReader> in = RecordReader::Parse(text, "doomed");
    if (!in.ok()) return in.status();
    Doomed d;
    in->Require("id", d.id);
    in->Read("removing", d.removing);
    if (!in->status().ok()) return in->status();
    return d;
  }
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(RecordStoreTest, ARemovingMarkOutlivesARestartWithoutRewritingTheRecord) {
  std::string dir = TempDir("marks");
  {
    RecordStore<Doomed> store(dir);
    ASSERT_TRUE(store.Load().ok());
    ASSERT_TRUE(store.Add({"a", false}).ok());
    ASSERT_TRUE(store.Add({"b", false}).ok());
    std::string before = *ReadFileToString(dir + "/a.json", 4096);
    ASSERT_TRUE(store.MarkRemoving("a").ok());
    EXPECT_TRUE(store.Get("a")->removing);
    EXPECT_FALSE(store.Get("b")->removing);
    EXPECT_EQ(*ReadFileToString(dir + "/a.json", 4096), before) << "the record was rewritten";
    EXPECT_EQ(store.MarkRemoving("nope").code(), absl::StatusCode::kNotFound);
    EXPECT_FALSE(Exists(dir + "/nope.removing"));
  }
  // Left by a crash between a record's removal and its mark's.
  ASSERT_TRUE(WriteFileAtomically(dir + "/gone.removing", "").ok());

  RecordStore<Doomed> reloaded(dir);
  ASSERT_TRUE(reloaded.Load().ok());
  ASSERT_TRUE(reloaded.Get("a").has_value());
  EXPECT_TRUE(reloaded.Get("a")->removing) << "the mark is read back";
  EXPECT_FALSE(reloaded.Get("b")->removing);
  EXPECT_FALSE(reloaded.Get("gone").has_value());
  EXPECT_FALSE(Exists(dir + "/gone.removing")) << "a mark without its record is dropped";

  // An update keeps the mark (the record in memory has it).
  ASSERT_TRUE(reloaded.Update("a", [](Doomed&) {}).ok());
  EXPECT_TRUE(reloaded.Get("a")->removing);
  ASSERT_TRUE(reloaded.Remove("a").ok());
  EXPECT_FALSE(Exists(dir + "/a.json"));
  EXPECT_FALSE(Exists(dir + "/a.removing")) << "Remove takes the mark too";
}

}  // namespace
}  // namespace ocid
