// A bound on how deeply a JSON text nests, checked before it is parsed.
//
// nlohmann::json parses iteratively, but copying, comparing and dumping a
// value recurse once per level, so a body of 100,000 '[' that parses fine
// overflows the stack the moment it is copied or dumped (a create body
// crashed berthd that way). Every JSON text that comes from outside
// (request bodies, seccomp profiles, image configs and manifests from a
// tar or a registry) is scanned with json_depth_ok() first.
//
// The scan counts '[' and '{' outside strings (escapes honoured); it does
// not validate, the parser does that afterwards. Pure; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace berth {

// Docker's own configs nest a handful of levels; 512 leaves room for any
// real document and keeps a recursion of that depth far from the stack's end.
inline constexpr size_t kMaxJsonDepth = 512;

// True when no array or object in `text` is nested deeper than max_depth.
bool json_depth_ok(std::string_view text, size_t max_depth = kMaxJsonDepth);

}  // namespace berth
