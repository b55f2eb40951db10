// What the CRI list calls' filters share.
#ifndef OCID_PKG_SERVER_FILTERS_H_
#define OCID_PKG_SERVER_FILTERS_H_

#include <google/protobuf/map.h>

#include <map>
#include <string>

namespace ocid {

// True when every key=value of `selector` is among `labels`.
inline bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& selector,
                        const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace ocid

#endif  // OCID_PKG_SERVER_FILTERS_H_
