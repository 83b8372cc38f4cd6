#include "cgroups/devices.h"

#include <charconv>

#include <fmt/format.h>

namespace berth::cgroups {

namespace {

Error bad_rule(std::string_view s) { return Error::invalid("invalid device cgroup format '{}'", s); }

// "*" or a decimal number (no sign, no spaces).
bool parse_number(std::string_view s, int64_t* out) {
  if (s == "*") {
    *out = -1;
    return true;
  }
  if (s.empty() || s.size() > 10) return false;
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = v;
  return true;
}

std::string number_text(int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); }

std::string access_text(uint8_t a) {
  std::string s;
  if (a & kDeviceRead) s += 'r';
  if (a & kDeviceWrite) s += 'w';
  if (a & kDeviceMknod) s += 'm';
  return s;
}

DeviceRule rule(char type, int64_t major, int64_t minor, uint8_t access = kDeviceAll) {
  return {.type = type, .major = major, .minor = minor, .access = access};
}

}  // namespace

bool parse_device_access(std::string_view s, uint8_t* access) {
  uint8_t a = 0;
  if (s.empty() || s.size() > 3) return false;
  for (char c : s) {
    uint8_t bit = c == 'r' ? kDeviceRead : c == 'w' ? kDeviceWrite : c == 'm' ? kDeviceMknod : 0;
    if (!bit || (a & bit)) return false;
    a |= bit;
  }
  *access = a;
  return true;
}

Result<DeviceRule> parse_device_rule(std::string_view s) {
  // "<type> <major>:<minor> <access>", single spaces, as Docker's regexp.
  size_t sp1 = s.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : s.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || s.find(' ', sp2 + 1) != std::string_view::npos) return bad_rule(s);
  std::string_view type = s.substr(0, sp1);
  std::string_view numbers = s.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view access = s.substr(sp2 + 1);
  DeviceRule r;
  if (type != "a" && type != "c" && type != "b") return bad_rule(s);
  r.type = type[0];
  size_t colon = numbers.find(':');
  if (colon == std::string_view::npos || !parse_number(numbers.substr(0, colon), &r.major) ||
      !parse_number(numbers.substr(colon + 1), &r.minor))
    return bad_rule(s);
  if (!parse_device_access(access, &r.access)) return bad_rule(s);
  return r;
}

std::string format_device_rule(const DeviceRule& r) {
  return fmt::format("{} {}:{} {}", r.type, number_text(r.major), number_text(r.minor), access_text(r.access));
}

std::vector<std::string> v1_allow_lines(const std::vector<DeviceRule>& rules) {
  std::vector<std::string> out;
  for (DeviceRule r : rules) {
    if (r.type != 'a') {
      out.push_back(format_device_rule(r));
    } else if (allows_all({r})) {
      out.push_back("a");
    } else {
      r.type = 'c';
      out.push_back(format_device_rule(r));
      r.type = 'b';
      out.push_back(format_device_rule(r));
    }
  }
  return out;
}

const std::vector<DeviceRule>& default_device_rules() {
  static const std::vector<DeviceRule> rules = {
      rule('c', -1, -1, kDeviceMknod),  // mknod of any node, but no access
      rule('b', -1, -1, kDeviceMknod),
      rule('c', 1, 3),                  // /dev/null
      rule('c', 1, 8),                  // /dev/random
      rule('c', 1, 7),                  // /dev/full
      rule('c', 5, 0),                  // /dev/tty
      rule('c', 1, 5),                  // /dev/zero
      rule('c', 1, 9),                  // /dev/urandom
      rule('c', 136, -1),               // /dev/pts/*
      rule('c', 5, 2),                  // /dev/ptmx
      rule('c', 10, 200),               // /dev/net/tun
  };
  return rules;
}

std::vector<DeviceRule> container_device_rules(bool privileged, const std::vector<DeviceRule>& extra) {
  if (privileged) return {rule('a', -1, -1)};
  std::vector<DeviceRule> out = default_device_rules();
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

bool allows_all(const std::vector<DeviceRule>& rules) {
  for (const DeviceRule& r : rules)
    if (r.type == 'a' && r.major < 0 && r.minor < 0 && r.access == kDeviceAll) return true;
  return false;
}

}  // namespace berth::cgroups
