// Shared plumbing for berthctl commands: daemon calls, stream output, JSON
// access without exceptions and docker-style formatting.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/proto/detach_keys.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {

void out(std::string_view s) { (void)write_all(STDOUT_FILENO, s); }
void err(std::string_view s) { (void)write_all(STDERR_FILENO, s); }

int fail(const Error& e, int code) {
  err(e.message() + "\n");
  return code;
}

// No version negotiation (HEAD /_ping): unversioned paths get the daemon's
// own API version, which is all berthctl needs, and each command saves a
// round trip.
Result<Client> dial(const Globals& g) { return Client::connect(g.host); }

Result<Client> dial_like(const Client& c) {
  Client other = BERTH_TRY(Client::connect(c.host()));
  other.set_api_version(c.api_version());
  return other;
}

Result<Response> call(Client& c, std::string_view method, std::string_view path, std::string_view body) {
  Response r = BERTH_TRY(c.request(method, path, body));
  if (r.status >= 400) return ipc::daemon_error(r);
  return r;
}

Result<json> call_json(Client& c, std::string_view method, std::string_view path, std::string_view body) {
  Response r = BERTH_TRY(call(c, method, path, body));
  json j = parse_json(r.body);
  if (j.is_discarded()) return Error::invalid("{} {}: the daemon sent invalid JSON", method, path);
  return j;
}

Result<std::string> read_stream_body(Client& c) {
  std::string body;
  for (;;) {
    std::optional<std::string> piece = BERTH_TRY(c.next_chunk());
    if (!piece) return body;
    body += *piece;
  }
}

std::string container_path(std::string_view id, std::string_view rest) {
  return "/containers/" + ipc::path_escape(id) + std::string(rest);
}

Result<json> restart_policy_json(const std::string& flag) {
  if (flag.empty()) return json{{"Name", "no"}, {"MaximumRetryCount", 0}};
  auto colon = flag.find(':');
  std::string name = flag.substr(0, colon);
  if (colon != std::string::npos && name.empty())
    return Error::invalid("invalid restart policy format: no policy provided before colon");
  int64_t count = 0;
  if (colon != std::string::npos && colon + 1 < flag.size()) {
    auto n = parse_int(std::string_view(flag).substr(colon + 1));
    if (!n) return Error::invalid("invalid restart policy format: maximum retry count must be an integer");
    count = *n;
  }
  return json{{"Name", name}, {"MaximumRetryCount", count}};
}

int for_each_id(const Globals& g, const std::vector<std::string>& ids,
                const std::function<Result<void>(Client&, const std::string&)>& one) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::vector<Error> errors;
  for (const std::string& id : ids) {
    if (Result<void> r = one(*c, id); !r)
      errors.push_back(r.error());
    else
      out(id + "\n");
  }
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

Error stream_error(Client& c, const Response& head) {
  Response r = head;
  Result<std::string> body = read_stream_body(c);
  if (body) r.body = std::move(*body);
  return ipc::daemon_error(r);
}

Result<void> StreamPrinter::feed(std::string_view data) {
  if (tty_) return write_all(STDOUT_FILENO, data);
  frames_.feed(data);
  uint8_t stream = 0;
  std::string payload;
  while (frames_.next(&stream, &payload)) {
    switch (stream) {
      case ipc::kStreamStdin:
      case ipc::kStreamStdout:
        BERTH_TRY_VOID(write_all(STDOUT_FILENO, payload));
        break;
      case ipc::kStreamStderr:
        BERTH_TRY_VOID(write_all(STDERR_FILENO, payload));
        break;
      case ipc::kStreamSystemError:
        return Error(Code::kSystem, "error from daemon in stream: " + payload);
      default:
        return Error::invalid("unrecognized input header: {}", stream);
    }
  }
  return ok();
}

Result<PumpEnd> stream_hijacked(Client::Hijacked& stream, const StreamOptions& o) {
  // docker's setupInput: only a tty attach that sends stdin goes raw and
  // watches for the detach keys. With -t alone the terminal stays cooked, so
  // ^C still interrupts berthctl (nothing would carry it to the process).
  bool interactive_tty = o.tty && o.forward_stdin;
  std::optional<RawTerminal> raw;
  if (interactive_tty && is_terminal(STDIN_FILENO)) {
    // Cooked is still usable (keys arrive a line late, and echoed twice),
    // and returning would leave `run` waiting for an exit with no input.
    if (Result<RawTerminal> r = RawTerminal::enter(STDIN_FILENO); r)
      raw.emplace(std::move(*r));
    else
      err("unable to set IO streams as raw terminal: " + r.error().message() + "\n");
  }
  // Raw before the first byte is printed: cooked output would turn the
  // pty's "\r\n" into "\r\r\n".
  StreamPrinter printer(o.tty);
  BERTH_TRY_VOID(printer.feed(stream.leftover));
  PumpInput input;
  if (o.forward_stdin) input.fd = STDIN_FILENO;
  std::optional<ipc::DetachMatcher> matcher;
  if (interactive_tty) {
    BERTH_ASSERT(!o.detach_keys.empty());
    // The keys are held back, never sent, as the docker CLI's escape proxy
    // does: the daemon never sees them from us, so it is always this side
    // that knows a detach happened (the daemon's own matching serves
    // clients that send them).
    matcher.emplace(o.detach_keys);
    input.filter = [&matcher](std::string_view in, std::string* out) { return matcher->feed(in, out); };
  }
  std::optional<WinchWatch> winch;
  if (o.tty && o.resize) {
    // Watch before reading the size, so a change in between is not lost.
    if (Result<WinchWatch> w = WinchWatch::open(); w) winch.emplace(std::move(*w));
    if (ConsoleSize size = console_size(); size.known()) {
      o.resize(size);
    } else {
      winch.reset();  // not a terminal: no size to send, now or later
    }
    if (winch) {
      input.wake_fd = winch->fd();
      input.on_wake = [&winch, &o] {
        winch->drain();
        if (ConsoleSize size = console_size(); size.known()) o.resize(size);
      };
    }
  }
  return pump_stream(stream.fd.get(), [&printer](std::string_view data) { return printer.feed(data); }, input);
}

Result<int> read_wait_status(Client& wait_conn) {
  std::string body = BERTH_TRY(read_stream_body(wait_conn));
  json j = parse_json(body);
  if (std::string e = jstr(jget(j, "Error"), "Message"); !e.empty()) return Error(Code::kSystem, e);
  if (!jget(j, "StatusCode").is_number()) return Error::invalid("unexpected answer {:?}", body);
  return int(jint(j, "StatusCode"));
}

json parse_json(std::string_view text) { return json::parse(text.begin(), text.end(), nullptr, false); }

const json& jget(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string jstr(const json& j, std::string_view key) {
  const json& v = jget(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t jint(const json& j, std::string_view key, int64_t dflt) {
  const json& v = jget(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return int64_t(v.get<double>());
  return dflt;
}

bool jbool(const json& j, std::string_view key) {
  const json& v = jget(j, key);
  return v.is_boolean() && v.get<bool>();
}

std::string dump(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

std::string short_id(std::string_view id) {
  if (id.starts_with("sha256:")) id.remove_prefix(7);
  return std::string(id.substr(0, 12));
}

std::string ago(int64_t unix_seconds) {
  return human_duration(now_ns() - unix_seconds * 1000000000) + " ago";
}

std::string go_quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': q += "\\\""; break;
      case '\\': q += "\\\\"; break;
      case '\a': q += "\\a"; break;
      case '\b': q += "\\b"; break;
      case '\f': q += "\\f"; break;
      case '\n': q += "\\n"; break;
      case '\r': q += "\\r"; break;
      case '\t': q += "\\t"; break;
      case '\v': q += "\\v"; break;
      default:
        if (u < 0x20 || u == 0x7f)
          q += fmt::format("\\x{:02x}", u);
        else
          q += c;
    }
  }
  return q + "\"";
}

std::string ellipsis(std::string_view s, size_t max_chars) {
  // Count UTF-8 code points (continuation bytes are 10xxxxxx).
  auto is_start = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; };
  size_t chars = size_t(std::count_if(s.begin(), s.end(), is_start));
  if (chars <= max_chars || max_chars == 0) return std::string(s);
  size_t kept = 0, i = 0;
  for (; i < s.size(); i++) {
    if (is_start(s[i]) && kept++ == max_chars - 1) break;
  }
  return std::string(s.substr(0, i)) + "…";
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  constexpr size_t kMinWidth = 10, kPadding = 3;
  auto width_of = [](const std::string& s) {
    return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  };
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); i++) {
      if (widths.size() <= i) widths.resize(i + 1, kMinWidth);
      widths[i] = std::max(widths[i], width_of(row[i]) + kPadding);
    }
  std::string text;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); i++) {
      text += row[i];
      if (i + 1 < row.size()) text.append(widths[i] - width_of(row[i]), ' ');
    }
    text += '\n';
  }
  return text;
}

void print_table(const std::vector<std::vector<std::string>>& rows) { out(format_table(rows)); }

namespace {

// A Go duration: "300ms", "10m", "1h30m", "1.5h". Returns nanoseconds.
std::optional<int64_t> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t num_end = 0;
    while (num_end < s.size() && ((s[num_end] >= '0' && s[num_end] <= '9') || s[num_end] == '.')) num_end++;
    if (num_end == 0) return std::nullopt;
    double value = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + num_end, value);
    if (ec != std::errc() || p != s.data() + num_end) return std::nullopt;
    s.remove_prefix(num_end);
    static const std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    bool found = false;
    for (const auto& [unit, scale] : kUnits) {
      if (s.starts_with(unit) && !(unit == "m" && s.starts_with("ms"))) {
        total += value * scale;
        s.remove_prefix(unit.size());
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
  }
  return int64_t(total);
}

// "2025-01-01", "2025-01-01T10:00:00Z", "…T10:00:00.5+02:00" → unix ns.
std::optional<int64_t> parse_rfc3339(std::string_view s) {
  tm t{};
  int frac_ns = 0, offset_s = 0;
  char buf[64];
  if (s.size() >= sizeof buf) return std::nullopt;
  std::copy(s.begin(), s.end(), buf);
  buf[s.size()] = '\0';
  const char* rest = strptime(buf, "%Y-%m-%d", &t);
  if (!rest) return std::nullopt;
  if (*rest == 'T') {
    rest = strptime(rest + 1, "%H:%M:%S", &t);
    if (!rest) return std::nullopt;
    if (*rest == '.') {
      int digits = 0;
      for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
        if (digits < 9) frac_ns = frac_ns * 10 + (*rest - '0');
      for (; digits < 9; digits++) frac_ns *= 10;
    }
    if (*rest == '+' || *rest == '-') {
      int hh = 0, mm = 0;
      if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
      offset_s = (*rest == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
      rest += 6;
    } else if (*rest == 'Z') {
      rest++;
    }
  }
  if (*rest != '\0') return std::nullopt;
  return (int64_t(timegm(&t)) - offset_s) * 1000000000 + frac_ns;
}

}  // namespace

std::optional<int64_t> go_duration_ns(std::string_view s) { return parse_go_duration(s); }

Result<std::string> to_unix_timestamp(std::string_view value, std::string_view flag) {
  if (!value.empty() && value.find_first_not_of("0123456789.") == std::string_view::npos)
    return std::string(value);
  std::optional<int64_t> ns;
  if (std::optional<int64_t> d = parse_go_duration(value))
    ns = now_ns() - *d;
  else
    ns = parse_rfc3339(value);
  if (!ns) return Error::invalid("invalid value for \"{}\": {:?} is not a timestamp or duration", flag, value);
  return fmt::format("{}.{:09}", *ns / 1000000000, *ns % 1000000000);
}

}  // namespace berth::ctl
