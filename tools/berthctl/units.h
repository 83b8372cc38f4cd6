// Docker's units for berthctl: the parsers behind the resource flags of
// run/create/update (go-units RAMInBytes, the CLI's MemSwapBytes and
// NanoCPUs) and the human-readable sizes the docker CLI prints (go-units
// HumanSizeWithPrecision and BytesSize). Pure functions; any thread. Errors
// carry go-units' and the CLI's wording, without the flag name (the caller
// adds `invalid argument "…" for "-m, --memory" flag: `).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ctl {

// go-units RAMInBytes: a decimal number, an optional space, then an optional
// unit k, m, g, t or p (powers of 1024, any case) optionally followed by "b"
// or "ib", or a bare "b": "1024", "32m", "1.5g", "32MB", "32MiB", "512 k".
// The fraction is truncated: "1.5k" is 1536, "0.5" is 0.
// Errors: "invalid size: '<s>'" (no digit, negative, too big),
// "invalid suffix: '<suffix>'", "strconv.ParseFloat: parsing \"<n>\": invalid syntax".
Result<int64_t> ram_in_bytes(std::string_view s);

// --memory-swap: "-1" (unlimited swap) or ram_in_bytes().
Result<int64_t> mem_swap_bytes(std::string_view s);

// --cpus: an exact rational number of CPUs ("0.5", "1.25", "3/2", "2e-1")
// in units of 1e-9 CPUs: "0.5" → 500000000. Errors: "failed to parse <s> as
// a rational number", "value is too precise" (finer than 1e-9), "value is
// out of range" (beyond int64).
Result<int64_t> nano_cpus(std::string_view s);

// go-units HumanSizeWithPrecision(bytes, 3): powers of 1000, %.3g:
// 0 → "0B", 1500 → "1.5kB", 4260000 → "4.26MB".
std::string human_size(double bytes);
// go-units BytesSize: powers of 1024, %.4g: 1572864 → "1.5MiB",
// 33554432 → "32MiB", 1000 → "1000B".
std::string bytes_size(double bytes);
// The docker CLI's "%.2f%%": 12.3456 → "12.35%".
std::string format_percent(double value);

}  // namespace berth::ctl
