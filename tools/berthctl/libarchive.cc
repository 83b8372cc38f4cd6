#include "tools/berthctl/libarchive.h"

#include <dlfcn.h>

namespace berth::ctl {

namespace {

// The soname Debian 12's libarchive13 installs; the ABI behind it is what
// <archive.h> declares.
constexpr const char* kSoname = "libarchive.so.13";

Result<LibArchive> load() {
  void* h = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = ::dlerror();
    return Error::make(Code::kNotSupported, "cp needs {}: {}", kSoname, why ? why : "cannot load it");
  }
  LibArchive lib;
#define BERTH_LIBARCHIVE_LOAD(name)                                                                   \
  lib.name = reinterpret_cast<decltype(&::name)>(::dlsym(h, #name));                                  \
  if (!lib.name) return Error::make(Code::kNotSupported, "cp needs {}, which lacks {}", kSoname, #name);
  BERTH_LIBARCHIVE_FUNCTIONS(BERTH_LIBARCHIVE_LOAD)
#undef BERTH_LIBARCHIVE_LOAD
  return lib;
}

}  // namespace

Result<const LibArchive*> libarchive() {
  static const Result<LibArchive> lib = load();
  if (!lib) return lib.error();
  return &*lib;
}

}  // namespace berth::ctl
