// BERTH_ASSERT: invariants that, when broken, are bugs rather than errors.
// Always on, in every build type; aborts with file:line and the expression.
// Any thread.
#pragma once

namespace berth {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);
}

#define BERTH_ASSERT(cond)                                                      \
  do {                                                                          \
    if (!(cond)) [[unlikely]] ::berth::assert_fail(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define BERTH_ASSERT_MSG(cond, msg)                                             \
  do {                                                                          \
    if (!(cond)) [[unlikely]] ::berth::assert_fail(#cond, __FILE__, __LINE__, msg); \
  } while (0)
