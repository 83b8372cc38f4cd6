#include "ipc/proto/url.h"

namespace berth::ipc {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool is_path_safe(char c) {
  switch (c) {
    case '/': case ':': case '@': case '$': case '&': case '+': case ',': case ';': case '=':
      return true;
    default:
      return is_unreserved(c);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_escaped(std::string& out, char c) {
  auto u = static_cast<unsigned char>(c);
  out.push_back('%');
  out.push_back(kHex[u >> 4]);
  out.push_back(kHex[u & 15]);
}

// Decodes %XX at s[i]; returns -1 if s[i..i+2] is not a valid escape.
int escape_at(std::string_view s, size_t i) {
  if (i + 2 >= s.size()) return -1;
  int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

}  // namespace

std::string url_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char c : s) {
    if (is_unreserved(c))
      out.push_back(c);
    else if (c == ' ')
      out.push_back('+');
    else
      append_escaped(out, c);
  }
  return out;
}

std::string path_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_path_safe(c))
      out.push_back(c);
    else
      append_escaped(out, c);
  }
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (int v = c == '%' ? escape_at(s, i) : -1; v >= 0) {
      out.push_back(char(v));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> path_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int v = escape_at(s, i);
    if (v < 0) return std::nullopt;
    out.push_back(char(v));
    i += 2;
  }
  return out;
}

}  // namespace berth::ipc
