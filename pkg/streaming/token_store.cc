#include "pkg/streaming/token_store.h"

#include "pkg/base/random_id.h"

namespace ocid::streaming {

std::string NewToken() { return NewRandomId(); }

}  // namespace ocid::streaming
