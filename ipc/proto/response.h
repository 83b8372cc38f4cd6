// HTTP/1.1 responses for the Docker Engine API: building them (server side)
// and parsing them incrementally (client side).
//
// Building: response_head() renders the status line and headers; the body
// follows either as Content-Length bytes or as chunks (append_chunk, then
// kLastChunk). The server decides the framing; these helpers only format.
// A streamed response (wait, logs -f, events, progress) must be chunked and
// its head flushed at once: the docker CLI blocks on the head of
// `POST /containers/{id}/wait` before it sends `start`.
//
// Parsing: ResponseParser has the same pull shape as RequestParser (see
// request.h). It handles Content-Length, chunked and read-until-EOF bodies
// (call finish() when the peer closes), 204/304 without a body, responses to
// HEAD (expect_no_body()), and 101 Switching Protocols: after kComplete of a
// 101, the remaining bytes are the raw hijacked stream.
//
// Thread safety: pure functions are safe on any thread; a parser belongs to
// one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "ipc/proto/http_types.h"

namespace berth::ipc {

// The reason phrase for `status`. 101 is "UPGRADED", dockerd's exact text
// for a hijacked attach/exec. Unknown codes give "Unknown".
const char* status_reason(int status);

// "HTTP/1.1 <status> <reason>\r\n" + "Name: value\r\n"… + "\r\n".
// Header names are sent as given; the caller adds Content-Length or
// Transfer-Encoding (none for 101, 204 and 304).
std::string response_head(int status, const Headers& headers);

// One chunk of a chunked body: "<hex size>\r\n<data>\r\n". Appends nothing
// for empty data (an empty chunk would end the body).
void append_chunk(std::string& out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

struct ResponseHead {
  int status = 0;
  Headers headers;              // names lowercased
  bool keep_alive = true;       // false: the server closes after this response
  bool upgrade = false;         // 101: the connection is now a raw stream
  bool chunked = false;
  int64_t content_length = -1;  // -1: absent (chunked, until EOF, or none)
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

class ResponseParser {
 public:
  using Event = ParseEvent;
  using Step = ParseStep;

  ResponseParser();
  explicit ResponseParser(size_t max_header_bytes, uint64_t max_body_bytes = UINT64_MAX);
  ~ResponseParser();
  ResponseParser(ResponseParser&&) noexcept;
  ResponseParser& operator=(ResponseParser&&) noexcept;
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Parses `in` up to the next event; the caller drops step.consumed bytes.
  Result<Step> feed(std::string_view in);
  // The peer closed the connection: kComplete for a body delimited by EOF,
  // kNeedMore between responses, kInvalidArgument mid-response.
  Result<Step> finish();
  // The next response answers a HEAD request: ignore its body framing.
  void expect_no_body();
  const ResponseHead& head() const;
  ResponseHead& head();
  bool in_message() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::ipc
