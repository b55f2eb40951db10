// Status propagation helpers; abseil 20220623 ships none.
#ifndef OCID_PKG_BASE_STATUS_MACROS_H_
#define OCID_PKG_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OCID_CONCAT_INNER_(a, b) a##b
#define OCID_CONCAT_(a, b) OCID_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define RETURN_IF_ERROR(expr)                           \
  do {                                                  \
    ::absl::Status ocid_status_ = (expr);               \
    if (!ocid_status_.ok()) return ocid_status_;        \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value, or returns
// F()'s error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  OCID_ASSIGN_OR_RETURN_IMPL_(OCID_CONCAT_(ocid_statusor_, __LINE__), lhs, expr)

#define OCID_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // OCID_PKG_BASE_STATUS_MACROS_H_
