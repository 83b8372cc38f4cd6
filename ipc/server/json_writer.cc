#include "ipc/server/json_writer.h"

#include <charconv>

#include "core/base/assert.h"

namespace berth::ipc {

void JsonWriter::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  uint64_t bit = uint64_t(1) << depth_;
  if (has_element_ & bit) out_ += ',';
  has_element_ |= bit;
}

JsonWriter& JsonWriter::open(char c) {
  comma();
  out_ += c;
  BERTH_ASSERT_MSG(depth_ < 63, "JsonWriter: nested deeper than 63 levels");
  depth_++;
  has_element_ &= ~(uint64_t(1) << depth_);
  return *this;
}

JsonWriter& JsonWriter::close(char c) {
  BERTH_ASSERT_MSG(depth_ > 0 && !after_key_, "JsonWriter: close without an open level");
  depth_--;
  out_ += c;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  comma();
  quoted(k);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  comma();
  quoted(s);
  return *this;
}

JsonWriter& JsonWriter::value(bool b) {
  comma();
  out_ += b ? "true" : "false";
  return *this;
}

template <class T>
JsonWriter& JsonWriter::number(T n) {
  comma();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::value(int64_t n) { return number(n); }
JsonWriter& JsonWriter::value(uint64_t n) { return number(n); }

JsonWriter& JsonWriter::null() {
  comma();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::strings(const std::vector<std::string>& v, bool empty_is_null) {
  if (v.empty() && empty_is_null) return null();
  begin_array();
  for (const auto& s : v) value(s);
  return end_array();
}

JsonWriter& JsonWriter::string_map(const std::map<std::string, std::string>& m) {
  begin_object();
  for (const auto& [k, v] : m) member(k, v);
  return end_object();
}

namespace {

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no
// overlongs, no surrogates, at most U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void JsonWriter::quoted(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out_ += '"';
  size_t i = 0, plain = 0;  // s[plain, i) is copied as it is
  auto flush = [&] { out_.append(s.data() + plain, i - plain); };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = utf8_length(s, i)) {
        i += n;
        continue;
      }
      flush();
      out_ += "\xEF\xBF\xBD";  // U+FFFD for the byte that starts no sequence
      plain = ++i;
      continue;
    }
    flush();
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        out_ += "\\u00";
        out_ += kHex[c >> 4];
        out_ += kHex[c & 0xF];
    }
    plain = ++i;
  }
  flush();
  out_ += '"';
}

}  // namespace berth::ipc
