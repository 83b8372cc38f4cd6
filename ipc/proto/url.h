// Percent-encoding for request targets, matching what Go's net/url does so
// berthctl's requests look like the docker CLI's. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth::ipc {

// Query component (Go's url.QueryEscape): keeps A-Z a-z 0-9 - _ . ~,
// a space becomes '+', everything else %XX (upper-case hex).
std::string url_encode(std::string_view s);
// Path segment(s) (Go's path escaping): like url_encode, but also keeps
// / : @ $ & + , ; = and encodes a space as %20. For image references in paths.
std::string path_escape(std::string_view s);
// Query-component decoding: %XX and '+' → space. Invalid escapes are kept
// verbatim (lenient; query values are validated by their consumers).
std::string url_decode(std::string_view s);
// Path decoding: %XX only ('+' stays '+'); nullopt on an invalid escape.
std::optional<std::string> path_decode(std::string_view s);

}  // namespace berth::ipc
