#include "ipc/proto/detach_keys.h"

#include <optional>

#include "core/base/strings.h"

namespace berth::ipc {

namespace {

std::optional<char> parse_key(std::string_view k) {
  if (k.size() == 1) return k[0];
  if (k.size() == 6 && starts_with(k, "ctrl-")) {
    char c = k[5];
    if (c >= 'a' && c <= 'z') return char(c - 'a' + 1);
    if (c >= 'A' && c <= 'Z') return char(c - 'A' + 1);
    switch (c) {
      case '@': return '\x00';
      case '[': return '\x1b';
      case '\\': return '\x1c';
      case ']': return '\x1d';
      case '^': return '\x1e';
      case '_': return '\x1f';
      default: break;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> parse_detach_keys(std::string_view spec) {
  if (spec.empty()) spec = kDefaultDetachKeys;
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t comma = spec.find(',', pos);
    std::string_view key = spec.substr(pos, comma == std::string_view::npos ? spec.size() - pos : comma - pos);
    auto c = parse_key(key);
    if (!c) return Error::invalid("Invalid detach keys ({}) provided", spec);
    out.push_back(*c);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

bool DetachMatcher::feed(std::string_view in, std::string* out) {
  if (keys_.empty()) {  // no detach keys: every byte is data
    out->append(in);
    return false;
  }
  for (char ch : in) {
    if (ch == keys_[matched_]) {
      if (++matched_ == keys_.size()) return true;
      continue;
    }
    // Not the next key: what was held back goes through, and this byte may
    // still start a new sequence.
    out->append(keys_, 0, matched_);
    matched_ = 0;
    if (ch == keys_[0]) {
      if (++matched_ == keys_.size()) return true;
    } else {
      out->push_back(ch);
    }
  }
  return false;
}

}  // namespace berth::ipc
