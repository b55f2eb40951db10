#ifndef OCID_PKG_BASE_VERSION_H_
#define OCID_PKG_BASE_VERSION_H_

namespace ocid {

inline constexpr char kOcidVersion[] = "0.1.0";
// The CRI API version ocid serves (package runtime.v1).
inline constexpr char kCriApiVersion[] = "v1";

}  // namespace ocid

#endif  // OCID_PKG_BASE_VERSION_H_
