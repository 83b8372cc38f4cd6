// HttpCore: the one place that drives libhttp-parser (internal to ipc/proto;
// include request.h or response.h instead).
//
// It turns http_parser's push callbacks into a pull API: feed() runs the C
// parser until the next event (head complete, one body piece, message
// complete) by pausing the parser inside the callback, and reports how many
// input bytes were consumed. Both RequestParser (server side) and
// ResponseParser (client side) are thin shells around it.
//
// Facts about http_parser 2.9.4 this relies on (checked against the
// installed library, see tests/unit/ipc/request_parser_test.cc):
//  * Pausing in on_headers_complete leaves the final LF of the head
//    unconsumed; the next execute() eats it. Harmless.
//  * Pausing in on_body at the end of a Content-Length body returns one byte
//    short: the last body byte is re-read by the "message done" state. feed()
//    hides this by executing that byte at once and queueing kComplete, so a
//    body view always lies inside the consumed prefix.
//  * execute() with length 0 means EOF, so feed("") never calls it.
//  * After a message with Upgrade (or a 101 response) the parser would parse
//    the raw stream as HTTP; feed() refuses to go on instead.
//
// Ownership: body views point into the caller's buffer and are valid until
// the caller changes it. The parsed head strings are owned here and reset
// when the next message begins.
// Thread safety: one instance per connection, used by one thread at a time.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "ipc/proto/http_types.h"

namespace berth::ipc {

class HttpCore {
 public:
  enum class Kind { kRequest, kResponse };

  HttpCore(Kind kind, size_t max_header_bytes, uint64_t max_body_bytes);
  HttpCore(const HttpCore&) = delete;
  HttpCore& operator=(const HttpCore&) = delete;

  Result<ParseStep> feed(std::string_view in);
  // The peer closed the connection. Completes a response whose body runs
  // until EOF; anything else mid-message is an error. kNeedMore when idle.
  Result<ParseStep> finish();
  // Client side: the next response answers a HEAD request and has no body.
  void expect_no_body() { skip_body_ = true; }
  // True between the first byte of a message and its kComplete.
  bool in_message() const { return phase_ != Phase::kIdle && phase_ != Phase::kUpgraded; }
  bool upgraded() const { return phase_ == Phase::kUpgraded; }
  // The server answered an Upgrade request without switching protocols: the
  // connection stays HTTP and the next feed() parses the next request.
  void refuse_upgrade() {
    if (phase_ == Phase::kUpgraded) phase_ = Phase::kIdle;
  }

  // The head of the current message, complete after kHead.
  struct Head {
    std::string method;  // requests
    std::string target;  // requests: raw request target
    int status = 0;      // responses
    Headers headers;     // names lowercased
    int http_major = 1, http_minor = 1;
    bool keep_alive = true;
    bool upgrade = false;
    bool chunked = false;
    int64_t content_length = -1;
  };
  Head& head() { return head_; }
  const Head& head() const { return head_; }

 private:
  enum class Phase { kIdle, kHead, kBody, kUpgraded, kFailed };

  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t n);
  static int on_header_field(http_parser* p, const char* at, size_t n);
  static int on_header_value(http_parser* p, const char* at, size_t n);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t n);
  static int on_message_complete(http_parser* p);
  static int on_chunk_header(http_parser* p);
  static const http_parser_settings& settings();

  Result<ParseStep> execute(std::string_view in);
  bool head_within_limit(const char* end) const;
  const char* what() const;  // "request" or "response", for messages
  Error parse_error(size_t offset) const;
  Error head_too_large() const;
  Error body_too_large(uint64_t length) const;  // length 0: unknown (chunked)
  int reject(Error e);                          // fails the parser; returns the callback error code

  http_parser parser_;
  Kind kind_;
  size_t max_header_bytes_;
  uint64_t max_body_bytes_;
  Phase phase_ = Phase::kIdle;
  Head head_;
  bool in_value_ = false;       // last header callback was a value
  bool skip_body_ = false;
  bool pending_complete_ = false;
  ParseEvent event_ = ParseEvent::kNeedMore;
  std::string_view body_;
  const char* feed_base_ = nullptr;
  size_t head_bytes_before_feed_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t chunk_overhead_bytes_ = 0;  // chunk-size lines and CRLFs since the last chunk
  Error error_;                        // set when a callback rejects, or after a failure
};

}  // namespace berth::ipc
