#include "core/base/strings.h"

#include <sys/random.h>
#include <time.h>

#include <charconv>

#include <fmt/format.h>

#include "core/base/assert.h"

namespace berth {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, p - start));
    start = p + 1;
  }
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

std::string to_hex(const unsigned char* data, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[data[i] >> 4];
    out[2 * i + 1] = d[data[i] & 15];
  }
  return out;
}

std::string random_id() {
  unsigned char b[32];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    BERTH_ASSERT(n > 0 || errno == EINTR);
    if (n > 0) got += n;
  }
  return to_hex(b, sizeof b);
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string format_rfc3339_nano(int64_t ns) {
  if (ns == 0) return "0001-01-01T00:00:00Z";
  time_t s = ns / 1000000000;
  tm t;
  gmtime_r(&s, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ns % 1000000000);
}

std::string human_duration(int64_t ns) {
  int64_t s = ns / 1000000000;
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return fmt::format("{} seconds", s);
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return fmt::format("{} minutes", m);
  int64_t h = (s + 1800) / 3600;
  if (h == 1) return "About an hour";
  if (h < 48) return fmt::format("{} hours", h);
  if (h < 24 * 7 * 2) return fmt::format("{} days", h / 24);
  if (h < 24 * 30 * 2) return fmt::format("{} weeks", h / 24 / 7);
  if (h < 24 * 365 * 2) return fmt::format("{} months", h / 24 / 30);
  return fmt::format("{} years", h / 24 / 365);
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_unix_timestamp_ns(std::string_view s) {
  auto dot = s.find('.');
  auto sec = parse_int(s.substr(0, dot));
  if (!sec) return std::nullopt;
  int64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::string f(s.substr(dot + 1));
    if (f.size() > 9 || f.empty()) return std::nullopt;
    f.append(9 - f.size(), '0');
    auto v = parse_int(f);
    if (!v) return std::nullopt;
    frac = *v;
  }
  return *sec * 1000000000 + frac;
}

std::vector<std::string> clean_path_parts(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string& c : split(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(c));
  }
  return parts;
}

}  // namespace berth
