// Signal names as Docker accepts them (core/base/signals.h). Pure.
#pragma once
#include "core/base/signals.h"
namespace berth::ipc {
using berth::parse_signal;
}
