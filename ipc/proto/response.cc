#include "ipc/proto/response.h"

#include <fmt/format.h>

#include "ipc/proto/http_core.h"

namespace berth::ipc {

const char* status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "UPGRADED";  // dockerd's text for a hijacked stream
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

std::string response_head(int status, const Headers& headers) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, status_reason(status));
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
  out.append(data);
  out += "\r\n";
}

struct ResponseParser::Impl {
  Impl(size_t max_header_bytes, uint64_t max_body_bytes)
      : core(HttpCore::Kind::kResponse, max_header_bytes, max_body_bytes) {}
  HttpCore core;
  ResponseHead head;
};

ResponseParser::ResponseParser() : ResponseParser(64 * 1024, UINT64_MAX) {}
ResponseParser::ResponseParser(size_t max_header_bytes, uint64_t max_body_bytes)
    : impl_(std::make_unique<Impl>(max_header_bytes, max_body_bytes)) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

const ResponseHead& ResponseParser::head() const { return impl_->head; }
ResponseHead& ResponseParser::head() { return impl_->head; }
bool ResponseParser::in_message() const { return impl_->core.in_message(); }
void ResponseParser::expect_no_body() { impl_->core.expect_no_body(); }
Result<ResponseParser::Step> ResponseParser::finish() { return impl_->core.finish(); }

Result<ResponseParser::Step> ResponseParser::feed(std::string_view in) {
  Step step = BERTH_TRY(impl_->core.feed(in));
  if (step.event != Event::kHead) return step;
  HttpCore::Head& h = impl_->core.head();
  ResponseHead& r = impl_->head;
  r.status = h.status;
  r.headers = std::move(h.headers);
  r.keep_alive = h.keep_alive;
  r.upgrade = h.upgrade;
  r.chunked = h.chunked;
  r.content_length = h.content_length;
  return step;
}

}  // namespace berth::ipc
