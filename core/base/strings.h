// String, id and time helpers. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

std::vector<std::string> split(std::string_view s, char sep);
// The components of `path` after lexical cleaning, as Go's path.Clean: no
// empty or "." components, ".." removes the one before it and never climbs
// above the first ("/../a" and "../a" give {"a"}).
std::vector<std::string> clean_path_parts(std::string_view path);
bool starts_with(std::string_view s, std::string_view p);
// ASCII letters lowered (header names, platforms, challenge schemes).
std::string ascii_lower(std::string_view s);
bool is_hex(std::string_view s);
std::string to_hex(const unsigned char* data, size_t n);
// 64 lowercase hex characters from getrandom(2).
std::string random_id();
// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
int64_t now_ns();
// RFC 3339 with nanoseconds, UTC: 2026-11-27T05:00:00.123456789Z.
// 0 formats as Go's zero time "0001-01-01T00:00:00Z" like Docker.
std::string format_rfc3339_nano(int64_t ns);
// "2 seconds", "About a minute", "3 hours": Docker's HumanDuration.
std::string human_duration(int64_t ns);
std::optional<int64_t> parse_int(std::string_view s);
// Docker-style unix timestamp "1735689600.000000001" or "1735689600" -> ns.
std::optional<int64_t> parse_unix_timestamp_ns(std::string_view s);

}  // namespace berth
