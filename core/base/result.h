// Error values and Result<T>, the one error convention of berth.
//
// A Result<T> is a std::expected<T, Error>, marked [[nodiscard]] so an
// ignored error is a compiler warning. An Error carries a closed code, the
// errno that caused it (0 if none) and a human message with context, built
// "verb 'object': strerror" style:
//
//   return Error::sys(errno, "mount overlay on {}", target);
//   BERTH_TRY(write_state(c)).context("start container {}", id);  // no: see below
//
// Context is added where an error crosses a layer: `r.error().context(...)` or
// BERTH_TRY_CTX. Errors are logged once, where they are handled (the ipc
// handler or the engine's background-event handler), never where they arise.
//
// Thread safety: plain values; any thread.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace berth {

enum class Code {
  kOk = 0,
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kConflict,       // the object is in the wrong state for this verb
  kNotModified,    // the verb had nothing to do (Docker's 304)
  kNotSupported,
  kCancelled,
  kSystem,
  kCorrupt,
  kTooLarge,
};

const char* code_name(Code c);

class Error {
 public:
  Error() = default;
  Error(Code code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  template <class... Args>
  static Error make(Code code, fmt::format_string<Args...> f, Args&&... args) {
    return Error(code, fmt::format(f, std::forward<Args>(args)...));
  }
  // "verb 'object': strerror(err)"; ENOENT/EEXIST map to their codes.
  template <class... Args>
  static Error sys(int err, fmt::format_string<Args...> f, Args&&... args) {
    return Error(code_for_errno(err),
                 fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...),
                             std::strerror(err)),
                 err);
  }
  template <class... Args>
  static Error not_found(fmt::format_string<Args...> f, Args&&... args) {
    return make(Code::kNotFound, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  static Error invalid(fmt::format_string<Args...> f, Args&&... args) {
    return make(Code::kInvalidArgument, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  static Error conflict(fmt::format_string<Args...> f, Args&&... args) {
    return make(Code::kConflict, f, std::forward<Args>(args)...);
  }

  // Prefixes the message: "start container ab12: <old message>".
  template <class... Args>
  Error& context(fmt::format_string<Args...> f, Args&&... args) & {
    message_ = fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...), message_);
    return *this;
  }
  template <class... Args>
  Error&& context(fmt::format_string<Args...> f, Args&&... args) && {
    message_ = fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...), message_);
    return std::move(*this);
  }

  Code code() const { return code_; }
  int sys_errno() const { return errno_; }
  const std::string& message() const { return message_; }

  static Code code_for_errno(int err);

 private:
  Code code_ = Code::kSystem;
  int errno_ = 0;
  std::string message_;
};

template <class T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  Result(Error e) : std::expected<T, Error>(std::unexpected(std::move(e))) {}
};

template <>
class [[nodiscard]] Result<void> : public std::expected<void, Error> {
 public:
  using std::expected<void, Error>::expected;
  Result(Error e) : std::expected<void, Error>(std::unexpected(std::move(e))) {}
};

inline Result<void> ok() { return {}; }

}  // namespace berth

// Evaluates a Result expression; on error returns the error from the caller,
// otherwise yields the value (GNU statement expression).
#define BERTH_TRY(expr)                                        \
  ({                                                           \
    auto berth_try_r_ = (expr);                                \
    if (!berth_try_r_.has_value())                             \
      return ::berth::Error(std::move(berth_try_r_.error()));  \
    std::move(*berth_try_r_);                                  \
  })

#define BERTH_TRY_VOID(expr)                                   \
  do {                                                         \
    auto berth_try_r_ = (expr);                                \
    if (!berth_try_r_.has_value())                             \
      return ::berth::Error(std::move(berth_try_r_.error()));  \
  } while (0)

// Like BERTH_TRY but prefixes context to the error message.
#define BERTH_TRY_CTX(expr, ...)                                          \
  ({                                                                      \
    auto berth_try_r_ = (expr);                                           \
    if (!berth_try_r_.has_value())                                        \
      return std::move(berth_try_r_.error()).context(__VA_ARGS__);        \
    std::move(*berth_try_r_);                                             \
  })
