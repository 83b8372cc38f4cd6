// Docker's size and CPU-count parsers and human-readable sizes; see units.h.
#include "tools/berthctl/units.h"

#include <cctype>
#include <charconv>
#include <iterator>
#include <limits>
#include <optional>

#include <fmt/format.h>

namespace berth::ctl {
namespace {

using u128 = unsigned __int128;  // exact intermediate products for --cpus

constexpr double kInt64Limit = 9223372036854775808.0;  // 2^63

// Go's strconv.ParseFloat for the decimal forms: optional sign, digits,
// fraction, exponent. Sets `out_of_range` for values beyond a double.
std::optional<double> parse_go_float(std::string_view s, bool* out_of_range) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::general);
  *out_of_range = ec == std::errc::result_out_of_range;
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// Powers of 1024 by unit letter (go-units binaryMap).
std::optional<double> binary_multiplier(char unit) {
  switch (unit) {
    case 'k': return 1024.0;
    case 'm': return 1024.0 * 1024;
    case 'g': return 1024.0 * 1024 * 1024;
    case 't': return 1024.0 * 1024 * 1024 * 1024;
    case 'p': return 1024.0 * 1024 * 1024 * 1024 * 1024;
    default: return std::nullopt;
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Accumulates decimal `digits` (at most 39, so no __int128 overflow).
std::optional<u128> to_u128(std::string_view digits) {
  digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.size() > 38) return std::nullopt;
  u128 v = 0;
  for (char c : digits) v = v * 10 + unsigned(c - '0');
  return v;
}

// `magnitude` with `negative` as an int64, or nullopt when it does not fit.
std::optional<int64_t> to_int64(u128 magnitude, bool negative) {
  const u128 max = negative ? u128(1) << 63 : (u128(1) << 63) - 1;
  if (magnitude > max) return std::nullopt;
  return negative ? -int64_t(magnitude - 1) - 1 : int64_t(magnitude);
}

// "a/b" in units of 1e-9 (big.Rat's fraction form).
Result<int64_t> nano_fraction(std::string_view body, bool negative, std::string_view whole) {
  size_t slash = body.find('/');
  std::string_view num = body.substr(0, slash), den = body.substr(slash + 1);
  if (!all_digits(num) || !all_digits(den))
    return Error::invalid("failed to parse {} as a rational number", whole);
  std::optional<u128> n = to_u128(num), d = to_u128(den);
  if (d && *d == 0) return Error::invalid("failed to parse {} as a rational number", whole);
  if (!n || *n > std::numeric_limits<uint64_t>::max()) return Error::invalid("value is out of range");
  if (*n == 0) return int64_t(0);
  if (!d) return Error::invalid("value is too precise");  // n·1e9 < 2^94 < d
  u128 scaled = *n * 1000000000;
  if (scaled % *d != 0) return Error::invalid("value is too precise");
  std::optional<int64_t> v = to_int64(scaled / *d, negative);
  if (!v) return Error::invalid("value is out of range");
  return *v;
}

}  // namespace

Result<int64_t> ram_in_bytes(std::string_view s) {
  // go-units v0.5 parseSize: the number ends at the last digit, '.' or space.
  size_t sep = s.find_last_of("0123456789. ");
  if (sep == std::string_view::npos) return Error::invalid("invalid size: '{}'", s);
  std::string_view num = s.substr(0, s[sep] == ' ' ? sep : sep + 1);
  std::string_view suffix = s.substr(sep + 1);
  bool out_of_range = false;
  std::optional<double> size = parse_go_float(num, &out_of_range);
  if (!size)
    return Error::invalid("strconv.ParseFloat: parsing \"{}\": {}", num, out_of_range ? "value out of range" : "invalid syntax");
  if (*size < 0) return Error::invalid("invalid size: '{}'", s);
  if (!suffix.empty()) {
    if (suffix.size() > 3) return Error::invalid("invalid suffix: '{}'", suffix);
    std::string lower;
    for (char c : suffix) lower += char(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "b") {
      std::optional<double> mul = binary_multiplier(lower[0]);
      bool tail_ok = lower.size() == 1 || lower.substr(1) == "b" || lower.substr(1) == "ib";
      if (!mul || !tail_ok) return Error::invalid("invalid suffix: '{}'", lower);
      *size *= *mul;
    }
  }
  // Go would wrap here; refusing is kinder.
  if (*size >= kInt64Limit) return Error::invalid("invalid size: '{}'", s);
  return int64_t(*size);
}

Result<int64_t> mem_swap_bytes(std::string_view s) {
  if (s == "-1") return int64_t(-1);
  return ram_in_bytes(s);
}

Result<int64_t> nano_cpus(std::string_view s) {
  auto bad = [&] { return Error::invalid("failed to parse {} as a rational number", s); };
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.find('/') != std::string_view::npos) return nano_fraction(body, negative, s);

  // digits[.digits][e[±]digits]: value = mantissa * 10^exp10.
  size_t exp_at = body.find_first_of("eE");
  std::string_view mant = body.substr(0, exp_at);
  int64_t exp10 = 0;
  if (exp_at != std::string_view::npos) {
    std::string_view e = body.substr(exp_at + 1);
    bool e_negative = !e.empty() && e[0] == '-';
    if (!e.empty() && (e[0] == '+' || e[0] == '-')) e.remove_prefix(1);
    if (!all_digits(e)) return bad();
    if (e.size() > 6) e = "999999";  // far beyond any int64: only the sign matters
    exp10 = std::stoll(std::string(e)) * (e_negative ? -1 : 1);
  }
  size_t dot = mant.find('.');
  std::string digits(mant.substr(0, dot));
  if (dot != std::string_view::npos) {
    std::string_view frac = mant.substr(dot + 1);
    if (frac.find('.') != std::string_view::npos) return bad();
    digits += frac;
    exp10 -= int64_t(frac.size());
  }
  if (digits.empty() || !all_digits(digits)) return bad();
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty()) return int64_t(0);

  int64_t shift = exp10 + 9;  // nanos = digits * 10^shift
  if (shift < 0) {
    if (-shift >= int64_t(digits.size())) return Error::invalid("value is too precise");
    std::string_view dropped = std::string_view(digits).substr(digits.size() - size_t(-shift));
    if (dropped.find_first_not_of('0') != std::string_view::npos) return Error::invalid("value is too precise");
    digits.resize(digits.size() - size_t(-shift));
  } else {
    if (int64_t(digits.size()) + shift > 20) return Error::invalid("value is out of range");
    digits.append(size_t(shift), '0');
  }
  std::optional<u128> magnitude = to_u128(digits);
  std::optional<int64_t> v = magnitude ? to_int64(*magnitude, negative) : std::nullopt;
  if (!v) return Error::invalid("value is out of range");
  return *v;
}

namespace {

// go-units CustomSize: scale by `base` until below it, print with %.<p>g.
std::string scaled(double size, double base, const char* const* units, size_t n_units, int precision) {
  size_t i = 0;
  while (size >= base && i + 1 < n_units) {
    size /= base;
    i++;
  }
  return fmt::format("{:.{}g}{}", size, precision, units[i]);
}

}  // namespace

std::string human_size(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  return scaled(bytes, 1000.0, kUnits, std::size(kUnits), 3);
}

std::string bytes_size(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  return scaled(bytes, 1024.0, kUnits, std::size(kUnits), 4);
}

std::string format_percent(double value) { return fmt::format("{:.2f}%", value); }

}  // namespace berth::ctl
