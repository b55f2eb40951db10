#ifndef OCID_PKG_STREAMING_TOKEN_STORE_H_
#define OCID_PKG_STREAMING_TOKEN_STORE_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ocid::streaming {

// Holds the pending streaming requests (exec, attach, port-forward) that an
// RPC has accepted and a client has yet to claim over HTTP. Each request is
// reachable by one token: 256 random bits in hex, usable once, and only
// within `ttl` of its issue. Expired entries are dropped on every Insert so the
// map stays bounded by the requests issued within one ttl.
template <typename Request>
class TokenStore {
 public:
  using Clock = std::function<absl::Time()>;

  TokenStore(absl::Duration ttl, Clock clock)
      : ttl_(ttl), clock_(std::move(clock)) {}

  // Stores `request` and returns its new token.
  std::string Insert(Request request) ABSL_LOCKS_EXCLUDED(mu_);

  // Removes and returns the request for `token`; NotFound when the token is
  // unknown, already used or expired.
  absl::StatusOr<Request> Consume(const std::string& token)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t Size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    Request request;
    absl::Time expires;
  };
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// A fresh token: 256 bits from getrandom, as 64 hex digits.
std::string NewToken();

template <typename Request>
std::string TokenStore<Request>::Insert(Request request) {
  absl::Time now = clock_();
  std::string token = NewToken();
  absl::MutexLock lock(&mu_);
  DropExpiredLocked(now);
  entries_[token] = Entry{std::move(request), now + ttl_};
  return token;
}

template <typename Request>
absl::StatusOr<Request> TokenStore<Request>::Consume(
    const std::string& token) {
  absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) {
    return absl::NotFoundError("unknown or used streaming token");
  }
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (now >= entry.expires) {
    return absl::NotFoundError("expired streaming token");
  }
  return std::move(entry.request);
}

template <typename Request>
size_t TokenStore<Request>::Size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

template <typename Request>
void TokenStore<Request>::DropExpiredLocked(absl::Time now) {
  absl::erase_if(entries_,
                 [now](const auto& kv) { return now >= kv.second.expires; });
}

}  // namespace ocid::streaming

#endif  // OCID_PKG_STREAMING_TOKEN_STORE_H_
