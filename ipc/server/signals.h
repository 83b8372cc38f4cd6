// Signal names as Docker accepts them: "KILL", "SIGKILL", "9". Pure.
#pragma once
#include <string_view>
#include "core/base/result.h"
namespace berth::ipc {
Result<int> parse_signal(std::string_view s);
}
