#include "core/base/result.h"

namespace berth {

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kConflict: return "conflict";
    case Code::kNotModified: return "not modified";
    case Code::kNotSupported: return "not supported";
    case Code::kCancelled: return "cancelled";
    case Code::kSystem: return "system error";
    case Code::kCorrupt: return "corrupt";
    case Code::kTooLarge: return "too large";
  }
  return "unknown";
}

Code Error::code_for_errno(int err) {
  switch (err) {
    case ENOENT: return Code::kNotFound;
    case EEXIST: return Code::kAlreadyExists;
    case EINVAL: return Code::kInvalidArgument;
    case EBUSY: return Code::kConflict;
    case ECANCELED: return Code::kCancelled;
    case ENOSYS:
    case EOPNOTSUPP: return Code::kNotSupported;
    default: return Code::kSystem;
  }
}

}  // namespace berth
