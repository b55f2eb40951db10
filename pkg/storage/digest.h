// Content digests ("sha256:<64 hex>") and a streaming SHA-256.
#ifndef OCID_PKG_STORAGE_DIGEST_H_
#define OCID_PKG_STORAGE_DIGEST_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocid {

struct Digest {
  std::string algorithm;  // "sha256" (the only one accepted)
  std::string hex;        // 64 lowercase hex digits

  std::string String() const { return algorithm + ":" + hex; }
  bool operator==(const Digest& other) const {
    return algorithm == other.algorithm && hex == other.hex;
  }
  bool operator!=(const Digest& other) const { return !(*this == other); }
  bool operator<(const Digest& other) const { return String() < other.String(); }
};

// Accepts exactly "sha256:" + 64 lowercase hex digits; InvalidArgument names
// what is wrong.
absl::StatusOr<Digest> ParseDigest(absl::string_view text);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // The digest of everything given so far; the hasher can't be used after.
  Digest Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Digest Sha256Of(absl::string_view data);

}  // namespace ocid

#endif  // OCID_PKG_STORAGE_DIGEST_H_
