#include "fs/utf8_locale.h"

namespace berth::fs {

namespace {
// Made once and never freed: a locale_t in use by some thread must not be.
locale_t utf8_ctype() {
  static const locale_t loc = [] {
    locale_t l = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return l ? l : ::newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(0));
  }();
  return loc;
}
}  // namespace

ScopedUtf8Ctype::ScopedUtf8Ctype() {
  if (locale_t l = utf8_ctype()) old_ = ::uselocale(l);
}

ScopedUtf8Ctype::~ScopedUtf8Ctype() {
  if (old_) ::uselocale(old_);
}

}  // namespace berth::fs
