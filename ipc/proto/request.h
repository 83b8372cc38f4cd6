// The server side of HTTP/1.1 for the Docker Engine API: a parsed request
// head (Request) and an incremental, pull-style request parser
// (RequestParser) built on libhttp-parser.
//
// Usage, one RequestParser per connection, on the thread that owns the
// connection (the reactor thread in berthd):
//
//   RequestParser p;
//   for (;;) {
//     auto step = p.feed(buf);           // buf: bytes received, not yet consumed
//     if (!step) → answer 400 (kInvalidArgument) or 413/431 (kTooLarge), close
//     kHead:     route on p.head() (method, path, query, headers)
//     kBody:     step->body is a piece of the de-chunked body; it points into
//                buf and is valid until buf changes
//     kComplete: the request is done; p.head() stays valid until the next
//                request's kHead replaces it. With keep-alive
//                the next request (pipelining) follows in the same buffer.
//                If p.head().upgrade, the bytes after it are the raw hijacked
//                stream: stop feeding.
//     kNeedMore: read more bytes
//     buf.erase(0, step->consumed);
//   }
//
// Limits: a header block larger than max_header_bytes (also capped by
// libhttp-parser's compile-time 80 KiB) fails with kTooLarge ("request header
// block exceeds …" → 431), a body larger than max_body_bytes with kTooLarge
// ("request body … exceeds …" → 413); malformed syntax, invalid chunk sizes,
// Content-Length together with Transfer-Encoding, unknown Transfer-Encoding,
// CONNECT and bad percent-escapes in the path fail with kInvalidArgument
// (→ 400). After an error the parser stays failed; close the connection.
//
// Thread safety: values; a parser belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/result.h"
#include "ipc/proto/http_types.h"

namespace berth::ipc {

struct Request {
  std::string method;       // "GET"
  std::string target;       // raw request target: "/v1.50/containers/json?all=1"
  std::string path;         // percent-decoded, version prefix removed: "/containers/json"
  std::string api_version;  // "1.50" when the path began with /v1.50/, else ""
  // Decoded ('+' is a space, %XX), in order; repeated keys kept (names=a&names=b).
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;          // names lowercased, values as sent (trailing blanks trimmed)
  bool keep_alive = true;   // HTTP/1.1 default; "Connection: close" or HTTP/1.0 → false
  bool upgrade = false;     // "Connection: Upgrade" + "Upgrade: …" (attach/exec hijack)
  bool chunked = false;     // Transfer-Encoding: chunked body
  int64_t content_length = -1;  // -1 when absent (or chunked)

  // Case-insensitive; "" if absent. The view points into `headers`.
  std::string_view header(std::string_view name) const;
  // The first value of query key `k`.
  std::optional<std::string> query_value(std::string_view k) const;
  std::vector<std::string> query_values(std::string_view k) const;
  // Docker's boolean query values. Absent → dflt. Case-insensitive and
  // trimmed: "" "0" "false" "no" "none" → false (Docker treats an empty value
  // as false); "1" "true" "yes" → true; anything else → kInvalidArgument.
  Result<bool> query_bool(std::string_view k, bool dflt) const;
  // Absent or "" → dflt; a decimal int64 otherwise, junk → kInvalidArgument.
  Result<int64_t> query_int(std::string_view k, int64_t dflt) const;
};

// Splits a raw request target into Request::path, api_version and query.
// Exposed for tests and for servers that build a Request by hand.
Result<void> parse_target(std::string_view target, Request* out);

class RequestParser {
 public:
  using Event = ParseEvent;
  using Step = ParseStep;

  static constexpr size_t kDefaultMaxHeaderBytes = 64 * 1024;
  // Image loads and imports can be large; anything above this is refused.
  static constexpr uint64_t kDefaultMaxBodyBytes = uint64_t(64) << 30;

  RequestParser();
  explicit RequestParser(size_t max_header_bytes, uint64_t max_body_bytes = kDefaultMaxBodyBytes);
  ~RequestParser();
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `in` up to the next event; see the file comment.
  Result<Step> feed(std::string_view in);
  const Request& head() const;
  Request& head();  // e.g. to move the head out after kHead
  // True while a request has started and not yet completed.
  bool in_message() const;
  // After kComplete of an upgrade request that the server answers without
  // 101 (e.g. 404 for an unknown container): keep parsing HTTP on this
  // connection. Without it, feed() refuses bytes after an upgrade request.
  void refuse_upgrade();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::ipc
