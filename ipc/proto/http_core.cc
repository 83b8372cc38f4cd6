#include "ipc/proto/http_core.h"

#include <algorithm>
#include <limits>

#include "core/base/assert.h"

namespace berth::ipc {

namespace {

// A chunk-size line with extensions, its CRLFs and any trailer fields: real
// clients send a few dozen bytes; this only stops an endless chunk header.
constexpr uint64_t kMaxChunkOverheadBytes = 64 * 1024;

HttpCore* core_of(http_parser* p) { return static_cast<HttpCore*>(p->data); }

void append_lower(std::string& out, const char* at, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = at[i];
    out.push_back((c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c);
  }
}

void trim_trailing_space(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
}

}  // namespace

HttpCore::HttpCore(Kind kind, size_t max_header_bytes, uint64_t max_body_bytes)
    : kind_(kind), max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  http_parser_init(&parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE);
  parser_.data = this;
}

const http_parser_settings& HttpCore::settings() {
  static const http_parser_settings s = [] {
    http_parser_settings x;
    http_parser_settings_init(&x);
    x.on_message_begin = &HttpCore::on_message_begin;
    x.on_url = &HttpCore::on_url;
    x.on_header_field = &HttpCore::on_header_field;
    x.on_header_value = &HttpCore::on_header_value;
    x.on_headers_complete = &HttpCore::on_headers_complete;
    x.on_body = &HttpCore::on_body;
    x.on_message_complete = &HttpCore::on_message_complete;
    x.on_chunk_header = &HttpCore::on_chunk_header;
    return x;
  }();
  return s;
}

Result<ParseStep> HttpCore::feed(std::string_view in) {
  if (phase_ == Phase::kFailed) return error_;
  if (pending_complete_) {
    pending_complete_ = false;
    return ParseStep{ParseEvent::kComplete, 0, {}};
  }
  if (phase_ == Phase::kUpgraded)
    return Error::invalid("HTTP parser: the connection was upgraded, its bytes are not HTTP");
  if (in.empty()) return ParseStep{};  // execute() with length 0 would mean EOF
  ParseStep step = BERTH_TRY(execute(in));
  if (step.event != ParseEvent::kBody) return step;
  // http_parser pauses at the end of a Content-Length body one byte short and
  // re-reads that byte in its "message done" state. Run it now so the body
  // view lies inside the consumed prefix; the completion is reported next.
  const char* body_end = step.body.data() + step.body.size();
  const char* consumed_end = in.data() + step.consumed;
  if (body_end > consumed_end) {
    size_t lag = size_t(body_end - consumed_end);
    std::string_view body = step.body;
    ParseStep tail = BERTH_TRY(execute(in.substr(step.consumed, lag)));
    BERTH_ASSERT(tail.consumed == lag);
    step.consumed += lag;
    step.body = body;
    pending_complete_ = tail.event == ParseEvent::kComplete;
  }
  return step;
}

Result<ParseStep> HttpCore::execute(std::string_view in) {
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  event_ = ParseEvent::kNeedMore;
  body_ = {};
  feed_base_ = in.data();
  // A head is never read past its limit (and one byte more, to know it is
  // over): a malformed byte beyond it must not decide the error, or the
  // answer would depend on how the bytes arrived (431 or 400). Found by
  // tests/fuzz/http_parser_fuzz.cc. The rest is fed again after the head.
  if (phase_ == Phase::kIdle || phase_ == Phase::kHead) {
    size_t used = phase_ == Phase::kHead ? head_bytes_before_feed_ : 0;
    size_t budget = used <= max_header_bytes_ ? max_header_bytes_ - used + 1 : 1;
    if (in.size() > budget) in = in.substr(0, budget);
  }
  size_t n = http_parser_execute(&parser_, &settings(), in.data(), in.size());
  enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) {
    if (phase_ != Phase::kFailed) reject(parse_error(n));  // else a callback said why
    return error_;
  }
  if (phase_ == Phase::kHead && event_ == ParseEvent::kNeedMore) {
    head_bytes_before_feed_ += n;
    if (head_bytes_before_feed_ > max_header_bytes_) {
      reject(head_too_large());
      return error_;
    }
  }
  if (phase_ == Phase::kBody && head_.chunked) {
    chunk_overhead_bytes_ = event_ == ParseEvent::kBody ? n - body_.size() : chunk_overhead_bytes_ + n;
    if (chunk_overhead_bytes_ > kMaxChunkOverheadBytes) {
      reject(Error::invalid("malformed chunked body: chunk header or trailer longer than {} bytes",
                            kMaxChunkOverheadBytes));
      return error_;
    }
  }
  return ParseStep{event_, n, body_};
}

Result<ParseStep> HttpCore::finish() {
  if (phase_ == Phase::kFailed) return error_;
  if (pending_complete_) {
    pending_complete_ = false;
    return ParseStep{ParseEvent::kComplete, 0, {}};
  }
  if (!in_message()) return ParseStep{};
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  event_ = ParseEvent::kNeedMore;
  http_parser_execute(&parser_, &settings(), nullptr, 0);
  if (event_ == ParseEvent::kComplete) return ParseStep{ParseEvent::kComplete, 0, {}};
  if (phase_ != Phase::kFailed) reject(Error::invalid("connection closed in the middle of an HTTP {}", what()));
  return error_;
}

const char* HttpCore::what() const { return kind_ == Kind::kRequest ? "request" : "response"; }

Error HttpCore::parse_error(size_t offset) const {
  enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_HEADER_OVERFLOW)  // the library's own cap, HTTP_MAX_HEADER_SIZE
    return Error(Code::kTooLarge, fmt::format("{} header block exceeds {} bytes", what(),
                                              std::min<size_t>(max_header_bytes_, HTTP_MAX_HEADER_SIZE)));
  return Error::invalid("malformed HTTP {} near byte {} of the input: {}", what(), offset,
                        http_errno_description(err));
}

Error HttpCore::head_too_large() const {
  return Error(Code::kTooLarge, fmt::format("{} header block exceeds {} bytes", what(), max_header_bytes_));
}

Error HttpCore::body_too_large(uint64_t length) const {
  if (length == 0)
    return Error(Code::kTooLarge, fmt::format("{} body exceeds the limit of {} bytes", what(), max_body_bytes_));
  return Error(Code::kTooLarge, fmt::format("{} body of {} bytes exceeds the limit of {} bytes", what(),
                                            length, max_body_bytes_));
}

int HttpCore::reject(Error e) {
  phase_ = Phase::kFailed;
  error_ = std::move(e);
  return -1;  // any non-zero return stops http_parser_execute
}

bool HttpCore::head_within_limit(const char* end) const {
  return head_bytes_before_feed_ + size_t(end - feed_base_) <= max_header_bytes_;
}

int HttpCore::on_message_begin(http_parser* p) {
  HttpCore* c = core_of(p);
  c->head_ = Head{};
  c->phase_ = Phase::kHead;
  c->in_value_ = false;
  c->head_bytes_before_feed_ = 0;
  c->body_bytes_ = 0;
  c->chunk_overhead_bytes_ = 0;
  return 0;
}

int HttpCore::on_url(http_parser* p, const char* at, size_t n) {
  HttpCore* c = core_of(p);
  if (!c->head_within_limit(at + n)) return c->reject(c->head_too_large());
  c->head_.target.append(at, n);
  return 0;
}

int HttpCore::on_header_field(http_parser* p, const char* at, size_t n) {
  HttpCore* c = core_of(p);
  if (c->phase_ != Phase::kHead) return 0;  // trailer fields after a chunked body: ignored
  if (!c->head_within_limit(at + n)) return c->reject(c->head_too_large());
  if (c->in_value_ || c->head_.headers.empty()) c->head_.headers.emplace_back();
  append_lower(c->head_.headers.back().first, at, n);
  c->in_value_ = false;
  return 0;
}

int HttpCore::on_header_value(http_parser* p, const char* at, size_t n) {
  HttpCore* c = core_of(p);
  if (c->phase_ != Phase::kHead) return 0;
  if (!c->head_within_limit(at + n)) return c->reject(c->head_too_large());
  if (c->head_.headers.empty()) c->head_.headers.emplace_back();
  c->head_.headers.back().second.append(at, n);
  c->in_value_ = true;
  return 0;
}

int HttpCore::on_headers_complete(http_parser* p) {
  HttpCore* c = core_of(p);
  Head& h = c->head_;
  h.http_major = p->http_major;
  h.http_minor = p->http_minor;
  for (auto& kv : h.headers) trim_trailing_space(kv.second);
  int rc = 0;
  if (c->kind_ == Kind::kRequest) {
    if (p->method == HTTP_CONNECT) return c->reject(Error::invalid("HTTP CONNECT is not supported"));
    h.method = http_method_str(static_cast<http_method>(p->method));
    h.upgrade = p->upgrade;
  } else {
    h.status = int(p->status_code);
    if (h.status == 101) {  // Switching Protocols: whatever follows is the raw stream
      h.upgrade = true;
      rc = 2;
    } else if (c->skip_body_) {
      p->flags |= F_SKIPBODY;  // lets http_should_keep_alive see a body-less response
      rc = 1;
    }
  }
  h.chunked = (p->flags & F_CHUNKED) != 0;
  h.keep_alive = http_should_keep_alive(p) != 0 && !h.upgrade;
  if (!h.chunked && (p->flags & F_CONTENTLENGTH)) {
    if (p->content_length > c->max_body_bytes_ ||
        p->content_length > uint64_t(std::numeric_limits<int64_t>::max()))
      return c->reject(c->body_too_large(p->content_length));
    h.content_length = int64_t(p->content_length);
  }
  c->phase_ = Phase::kBody;
  c->event_ = ParseEvent::kHead;
  http_parser_pause(p, 1);
  return rc;
}

int HttpCore::on_body(http_parser* p, const char* at, size_t n) {
  HttpCore* c = core_of(p);
  c->body_bytes_ += n;
  if (c->body_bytes_ > c->max_body_bytes_)
    return c->reject(c->body_too_large(0));
  c->body_ = std::string_view(at, n);
  c->event_ = ParseEvent::kBody;
  http_parser_pause(p, 1);
  return 0;
}

int HttpCore::on_chunk_header(http_parser* p) {
  HttpCore* c = core_of(p);
  if (p->content_length > c->max_body_bytes_ - std::min(c->body_bytes_, c->max_body_bytes_))
    return c->reject(c->body_too_large(0));
  return 0;
}

int HttpCore::on_message_complete(http_parser* p) {
  HttpCore* c = core_of(p);
  c->phase_ = c->head_.upgrade ? Phase::kUpgraded : Phase::kIdle;
  c->event_ = ParseEvent::kComplete;
  c->skip_body_ = false;
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace berth::ipc
