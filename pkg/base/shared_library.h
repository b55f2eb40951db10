// A shared library opened at run time (dlopen) instead of linked, so that a
// process which never needs it maps neither it nor its dependencies.
#ifndef OCID_PKG_BASE_SHARED_LIBRARY_H_
#define OCID_PKG_BASE_SHARED_LIBRARY_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pkg/base/status_macros.h"

namespace ocid {

class SharedLibrary {
 public:
  // dlopen(soname, RTLD_NOW | RTLD_LOCAL): every symbol is bound at once, so
  // a broken install fails here rather than on some later call, and nothing
  // the library brings is visible to other code. FailedPrecondition
  // "<soname> cannot be loaded: <the loader's reason>".
  static absl::StatusOr<SharedLibrary> Open(const std::string& soname);

  const std::string& soname() const { return soname_; }

  // The address of the symbol `name`. FailedPrecondition
  // "<soname> has no symbol <name>: <the loader's reason>".
  absl::StatusOr<void*> Symbol(const char* name) const;

  // Sets `function` to the symbol `name`. Give `function` the type the
  // library's header declares (decltype(&::name)), so a call through it is
  // checked like a call to the linked function.
  template <typename Function>
  absl::Status Resolve(const char* name, Function*& function) const {
    ASSIGN_OR_RETURN(void* address, Symbol(name));
    function = reinterpret_cast<Function*>(address);
    return absl::OkStatus();
  }

 private:
  struct Closer {
    void operator()(void* handle) const;
  };

  SharedLibrary(std::string soname, void* handle) : soname_(std::move(soname)), handle_(handle) {}

  std::string soname_;
  std::unique_ptr<void, Closer> handle_;  // dlclosed with the object
};

// The function table `Table` of library `soname`, filled by `resolve` on the
// first call and shared by every later one (thread-safe; concurrent first
// callers wait for one load). The library stays loaded, and the table valid,
// until the process exits; a failed load is remembered and returned again.
// One soname per Table type: the first call decides.
template <typename Table>
absl::StatusOr<const Table*> LoadOnce(const char* soname,
                                      absl::Status (*resolve)(const SharedLibrary&, Table&)) {
  struct Loaded {
    SharedLibrary library;
    Table table;
  };
  // Never destroyed: threads still running at exit may be calling in.
  static const absl::StatusOr<Loaded>* const loaded = [&] {
    absl::StatusOr<SharedLibrary> library = SharedLibrary::Open(soname);
    if (!library.ok()) return new absl::StatusOr<Loaded>(library.status());
    Table table{};
    absl::Status status = resolve(*library, table);
    if (!status.ok()) return new absl::StatusOr<Loaded>(status);
    return new absl::StatusOr<Loaded>(Loaded{*std::move(library), table});
  }();
  if (!loaded->ok()) return loaded->status();
  return &(*loaded)->table;
}

}  // namespace ocid

#endif  // OCID_PKG_BASE_SHARED_LIBRARY_H_
