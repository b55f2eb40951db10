#include "pkg/base/shared_library.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace ocid {
namespace {

std::string LoaderError() {
  const char* error = dlerror();
  return error != nullptr ? error : "unknown dynamic loader error";
}

}  // namespace

absl::StatusOr<SharedLibrary> SharedLibrary::Open(const std::string& soname) {
  void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(soname, " cannot be loaded: ", LoaderError()));
  }
  return SharedLibrary(soname, handle);
}

absl::StatusOr<void*> SharedLibrary::Symbol(const char* name) const {
  dlerror();  // a null symbol is told from a missing one by dlerror alone
  void* address = dlsym(handle_.get(), name);
  if (address == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(soname_, " has no symbol ", name, ": ", LoaderError()));
  }
  return address;
}

void SharedLibrary::Closer::operator()(void* handle) const { dlclose(handle); }

}  // namespace ocid
