// Signal names as Docker accepts them: "KILL", "SIGKILL", "9". Pure; any
// thread. Used by the API (kill, stop) and the engine (a container's
// StopSignal, the image's STOPSIGNAL).
#pragma once
#include <string_view>
#include "core/base/result.h"
namespace berth {
Result<int> parse_signal(std::string_view s);
}
