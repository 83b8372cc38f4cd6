#include "ipc/proto/request.h"

#include <charconv>

#include "ipc/proto/http_core.h"
#include "ipc/proto/url.h"

namespace berth::ipc {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "/v1.50/containers/json" → version "1.50", rest "/containers/json".
// Docker's router accepts /v{version:[0-9.]+}; require a leading digit so a
// path like "/v./x" is not taken for a version.
void split_version(std::string_view raw_path, std::string_view* version, std::string_view* rest) {
  *version = {};
  *rest = raw_path;
  if (raw_path.size() < 3 || raw_path.substr(0, 2) != "/v" || !is_digit(raw_path[2])) return;
  size_t end = 2;
  while (end < raw_path.size() && (is_digit(raw_path[end]) || raw_path[end] == '.')) end++;
  if (end < raw_path.size() && raw_path[end] != '/') return;  // "/v1abc": not a version
  *version = raw_path.substr(2, end - 2);
  *rest = end < raw_path.size() ? raw_path.substr(end) : std::string_view("/");
}

void parse_query(std::string_view q, std::vector<std::pair<std::string, std::string>>* out) {
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view piece = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos)
      out->emplace_back(url_decode(piece), std::string());
    else
      out->emplace_back(url_decode(piece.substr(0, eq)), url_decode(piece.substr(eq + 1)));
  }
}

// Origin form ("/x?y") is what every Docker client sends; accept the
// absolute form ("http://host/x?y") too by skipping scheme and authority.
std::string_view origin_form(std::string_view target) {
  if (!target.empty() && target.front() == '/') return target;
  size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return {};
  size_t slash = target.find('/', scheme + 3);
  return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
}

}  // namespace

std::string_view Request::header(std::string_view name) const { return find_header(headers, name); }

std::optional<std::string> Request::query_value(std::string_view k) const {
  for (const auto& [key, value] : query)
    if (key == k) return value;
  return std::nullopt;
}

std::vector<std::string> Request::query_values(std::string_view k) const {
  std::vector<std::string> out;
  for (const auto& [key, value] : query)
    if (key == k) out.push_back(value);
  return out;
}

Result<bool> Request::query_bool(std::string_view k, bool dflt) const {
  std::optional<std::string> v = query_value(k);
  if (!v) return dflt;
  std::string_view s = trim(*v);
  for (std::string_view f : {"", "0", "false", "no", "none"})
    if (iequals(s, f)) return false;
  for (std::string_view t : {"1", "true", "yes"})
    if (iequals(s, t)) return true;
  return Error::invalid("invalid boolean value {:?} for query parameter {:?}", *v, k);
}

Result<int64_t> Request::query_int(std::string_view k, int64_t dflt) const {
  std::optional<std::string> v = query_value(k);
  if (!v) return dflt;
  std::string_view s = trim(*v);
  if (s.empty()) return dflt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size())
    return Error::invalid("invalid integer value {:?} for query parameter {:?}", *v, k);
  return n;
}

Result<void> parse_target(std::string_view target, Request* out) {
  std::string_view t = origin_form(target);
  if (t.empty()) return Error::invalid("invalid request target {:?}", target);
  t = t.substr(0, t.find('#'));
  size_t qmark = t.find('?');
  std::string_view raw_path = t.substr(0, qmark);
  std::string_view version, rest;
  split_version(raw_path, &version, &rest);
  std::optional<std::string> path = path_decode(rest);
  if (!path) return Error::invalid("invalid URL escape in request path {:?}", raw_path);
  out->path = std::move(*path);
  out->api_version = std::string(version);
  out->query.clear();
  if (qmark != std::string_view::npos) parse_query(t.substr(qmark + 1), &out->query);
  return ok();
}

struct RequestParser::Impl {
  Impl(size_t max_header_bytes, uint64_t max_body_bytes)
      : core(HttpCore::Kind::kRequest, max_header_bytes, max_body_bytes) {}
  HttpCore core;
  Request request;
  std::optional<Error> error;  // a target the core accepted but we could not parse
};

RequestParser::RequestParser() : RequestParser(kDefaultMaxHeaderBytes, kDefaultMaxBodyBytes) {}
RequestParser::RequestParser(size_t max_header_bytes, uint64_t max_body_bytes)
    : impl_(std::make_unique<Impl>(max_header_bytes, max_body_bytes)) {}
RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&&) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&&) noexcept = default;

const Request& RequestParser::head() const { return impl_->request; }
Request& RequestParser::head() { return impl_->request; }
bool RequestParser::in_message() const { return impl_->core.in_message(); }
void RequestParser::refuse_upgrade() { impl_->core.refuse_upgrade(); }

Result<RequestParser::Step> RequestParser::feed(std::string_view in) {
  if (impl_->error) return *impl_->error;
  Step step = BERTH_TRY(impl_->core.feed(in));
  if (step.event != Event::kHead) return step;
  HttpCore::Head& h = impl_->core.head();
  Request& r = impl_->request;
  r = Request{};
  r.method = std::move(h.method);
  r.target = std::move(h.target);
  r.headers = std::move(h.headers);
  r.keep_alive = h.keep_alive;
  r.upgrade = h.upgrade;
  r.chunked = h.chunked;
  r.content_length = h.content_length;
  if (Result<void> t = parse_target(r.target, &r); !t) {
    impl_->error = t.error();
    return t.error();
  }
  return step;
}

}  // namespace berth::ipc
