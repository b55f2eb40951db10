// The Stream* list calls send what their List twins answer, in messages of
// at most kStreamBatch items, so that neither side holds the whole list in
// one message. The keys are gathered under the store's lock; each item is
// built when its batch is sent, with no lock held while writing.
#ifndef OCID_PKG_SERVER_STREAM_BATCHES_H_
#define OCID_PKG_SERVER_STREAM_BATCHES_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ocid {

inline constexpr size_t kStreamBatch = 100;

// Sends one Response per kStreamBatch keys through `write` (false: the
// client went away); `add(key, response)` adds the key's item, or nothing
// when it is gone. A key is an ID, or the item itself when it is already
// read (stats). No keys: no message.
template <typename Response, typename Key, typename Add>
absl::Status WriteInBatchesTo(const std::function<bool(const Response&)>& write,
                              const std::vector<Key>& keys, Add&& add) {
  for (size_t start = 0; start < keys.size(); start += kStreamBatch) {
    Response response;
    for (size_t i = start; i < std::min(keys.size(), start + kStreamBatch); ++i) {
      add(keys[i], response);
    }
    if (!write(response)) return absl::CancelledError("the client went away");
  }
  return absl::OkStatus();
}

template <typename Response, typename Key, typename Add>
absl::Status WriteInBatches(grpc::ServerWriter<Response>* writer, const std::vector<Key>& keys,
                            Add&& add) {
  return WriteInBatchesTo<Response, Key>(
      [writer](const Response& response) { return writer->Write(response); }, keys,
      std::forward<Add>(add));
}

}  // namespace ocid

#endif  // OCID_PKG_SERVER_STREAM_BATCHES_H_
