#ifndef OCID_PKG_BASE_RANDOM_ID_H_
#define OCID_PKG_BASE_RANDOM_ID_H_

#include <string>

namespace ocid {

// 64 random hex digits (from getrandom), the form of pod and container IDs.
std::string NewRandomId();

}  // namespace ocid

#endif  // OCID_PKG_BASE_RANDOM_ID_H_
