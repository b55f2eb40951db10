// Parsed copies of proto3 JSON texts that are read far more often than they
// change: the CRI configs stored in pod and container records, which every
// status, event and stop reads. Parsing JSON into a message costs tens of
// microseconds; a copy of the parsed message costs a few. Keyed by the text
// itself, so a changed config (UpdateContainerResources) is simply another
// entry and nothing ever has to be invalidated; the least recently used text
// goes first once `capacity` are kept.
#ifndef OCID_PKG_BASE_PROTO_JSON_CACHE_H_
#define OCID_PKG_BASE_PROTO_JSON_CACHE_H_

#include <google/protobuf/util/json_util.h>

#include <list>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ocid {

template <typename Message>
class ProtoJsonCache {
 public:
  explicit ProtoJsonCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  ProtoJsonCache(const ProtoJsonCache&) = delete;
  ProtoJsonCache& operator=(const ProtoJsonCache&) = delete;

  // The message `json` holds; an unparsable text is an error (with the
  // parser's message) and is not kept.
  absl::StatusOr<Message> Parse(const std::string& json) {
    if (std::shared_ptr<const Message> kept = Find(json)) return *kept;
    auto parsed = std::make_shared<Message>();
    auto status = google::protobuf::util::JsonStringToMessage(json, parsed.get());
    if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
    Keep(json, parsed);
    return *parsed;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    std::shared_ptr<const Message> message;
    typename std::list<std::string>::iterator use;  // its place in uses_
  };

  std::shared_ptr<const Message> Find(const std::string& json) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(json);
    if (it == entries_.end()) return nullptr;
    uses_.splice(uses_.begin(), uses_, it->second.use);
    return it->second.message;
  }

  void Keep(const std::string& json, std::shared_ptr<const Message> message) {
    absl::MutexLock lock(&mu_);
    if (entries_.contains(json)) return;  // another thread parsed it too
    if (entries_.size() >= capacity_) {
      entries_.erase(uses_.back());
      uses_.pop_back();
    }
    uses_.push_front(json);
    entries_.emplace(json, Entry{std::move(message), uses_.begin()});
  }

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::list<std::string> uses_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ocid

#endif  // OCID_PKG_BASE_PROTO_JSON_CACHE_H_
