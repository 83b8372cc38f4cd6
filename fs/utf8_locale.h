// ScopedUtf8Ctype: switches the calling thread's LC_CTYPE to C.UTF-8 for the
// guard's lifetime with uselocale(3); the process locale is untouched.
//
// Why: libarchive converts pax path names (UTF-8 on the wire) to the current
// locale's charset. In the "C" locale a daemon runs in, any non-ASCII name
// fails to convert and archive_entry_pathname() returns NULL; under C.UTF-8
// the bytes pass through unchanged, which is what a Linux file name is.
// libarchive caches the charset per archive at first use, so the guard must
// span the archive's whole life on this thread. If C.UTF-8 is missing the
// guard does nothing. Any thread; the guard belongs to the thread that made it.
#pragma once

#include <locale.h>

namespace berth::fs {

class ScopedUtf8Ctype {
 public:
  ScopedUtf8Ctype();
  ~ScopedUtf8Ctype();
  ScopedUtf8Ctype(const ScopedUtf8Ctype&) = delete;
  ScopedUtf8Ctype& operator=(const ScopedUtf8Ctype&) = delete;

 private:
  locale_t old_ = nullptr;
};

}  // namespace berth::fs
