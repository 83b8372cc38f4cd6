// Plain types shared by the request and response sides of ipc/proto: header
// lists and the parse-step record returned by the incremental parsers.
// Values only; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::ipc {

// Header fields in arrival order. Parsers store names lowercased; builders
// (response_head) send names exactly as given.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The first value of header `name` (ASCII case-insensitive), "" if absent.
// The view points into `headers`.
std::string_view find_header(const Headers& headers, std::string_view name);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

enum class ParseEvent { kNeedMore, kHead, kBody, kComplete };

// One parse step. `consumed` input bytes are done with; the caller drops them
// and feeds the rest. `body` is set only for kBody; it points into the input
// of the feed() call that returned it and lies within its first `consumed`
// bytes.
struct ParseStep {
  ParseEvent event = ParseEvent::kNeedMore;
  size_t consumed = 0;
  std::string_view body;
};

}  // namespace berth::ipc
