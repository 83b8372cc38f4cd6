// The history of an image: the "history" array of its config document
// (OCI image-spec config.md), which `docker history` shows newest first.
// Pure function on values; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::fs {

struct HistoryEntry {
  int64_t created_ns = 0;
  std::string created_by, comment, author;
  bool empty_layer = false;  // true: made no layer (ENV, CMD, an empty commit)
};

// Oldest first, as stored. kInvalidArgument for a malformed document.
Result<std::vector<HistoryEntry>> parse_history(std::string_view config_json);

}  // namespace berth::fs
