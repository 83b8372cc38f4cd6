#include "tools/berthctl/list_scan.h"

#include <charconv>
#include <cstdint>
#include <cstring>

namespace berth::ctl {

namespace {

using nlohmann::json;

class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool at(char c) {
    ws();
    return p_ != end_ && *p_ == c;
  }
  bool done() {
    ws();
    return p_ == end_;
  }

  // A string at p_, unescaped into *out (or only skipped when out is null).
  bool string(std::string* out) {
    if (!eat('"')) return false;
    for (;;) {
      const char* q = p_;
      while (q < end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
      if (out) out->append(p_, q);
      if (q == end_ || static_cast<unsigned char>(*q) < 0x20) return false;
      if (*q == '"') {
        p_ = q + 1;
        return true;
      }
      p_ = q + 1;   // past the backslash
      if (!escape(out)) return false;
    }
  }

  // Past the value at p_; its text is [begin, p_).
  bool skip(const char** begin) {
    ws();
    *begin = p_;
    if (p_ == end_) return false;
    if (*p_ == '"') return string(nullptr);
    if (*p_ == '{' || *p_ == '[') {
      int depth = 0;
      while (p_ < end_) {
        char c = *p_;
        if (c == '"') {
          if (!string(nullptr)) return false;
          continue;
        }
        if (c == '{' || c == '[') {
          depth++;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++p_;
            return true;
          }
        }
        ++p_;
      }
      return false;
    }
    while (p_ < end_ && !std::strchr(",}] \n\r\t", *p_)) ++p_;
    return p_ != *begin;
  }

  // A kept value, as json.
  bool value(json* out) {
    ws();
    if (p_ == end_) return false;
    if (*p_ == '"') {
      std::string s;
      if (!string(&s)) return false;
      *out = std::move(s);
      return true;
    }
    const char* begin;
    if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
      if (!skip(&begin)) return false;
      int64_t v;
      auto [ptr, ec] = std::from_chars(begin, p_, v);
      if (ec == std::errc() && ptr == p_) {
        *out = v;
        return true;
      }
    } else if (!skip(&begin)) {
      return false;
    }
    std::string_view text(begin, size_t(p_ - begin));
    if (text == "[]") {
      *out = json::array();
      return true;
    }
    *out = json::parse(text, nullptr, false);
    return !out->is_discarded();
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
      int h = hex(p_[i]);
      if (h < 0) return false;
      *v = *v << 4 | uint32_t(h);
    }
    p_ += 4;
    return true;
  }
  static void utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(char(cp));
    } else if (cp < 0x800) {
      out->push_back(char(0xC0 | cp >> 6));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(char(0xE0 | cp >> 12));
      out->push_back(char(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(char(0xF0 | cp >> 18));
      out->push_back(char(0x80 | (cp >> 12 & 0x3F)));
      out->push_back(char(0x80 | (cp >> 6 & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    }
  }
  // After a backslash: one escape (as nlohmann takes them: a lone surrogate
  // is an error).
  bool escape(std::string* out) {
    if (p_ == end_) return false;
    char e = *p_++;
    char c;
    switch (e) {
      case '"': c = '"'; break;
      case '\\': c = '\\'; break;
      case '/': c = '/'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!hex4(&cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (out) utf8(cp, out);
        return true;
      }
      default:
        return false;
    }
    if (out) out->push_back(c);
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::optional<json> scan_object_list(std::string_view body, const std::set<std::string, std::less<>>& keep) {
  Scanner s(body);
  json list = json::array();
  if (!s.eat('[')) return std::nullopt;
  if (s.eat(']')) return s.done() ? std::optional<json>(std::move(list)) : std::nullopt;
  std::string key;
  for (;;) {
    if (!s.eat('{')) return std::nullopt;
    json item = json::object();
    if (!s.eat('}')) {
      for (;;) {
        key.clear();
        if (!s.string(&key) || !s.eat(':')) return std::nullopt;
        if (keep.count(key)) {
          json v;
          if (!s.value(&v)) return std::nullopt;
          item[key] = std::move(v);
        } else {
          const char* begin;
          if (!s.skip(&begin)) return std::nullopt;
        }
        if (s.eat(',')) continue;
        if (s.eat('}')) break;
        return std::nullopt;
      }
    }
    list.push_back(std::move(item));
    if (s.eat(',')) continue;
    if (s.eat(']')) break;
    return std::nullopt;
  }
  if (!s.done()) return std::nullopt;
  return list;
}

}  // namespace berth::ctl
