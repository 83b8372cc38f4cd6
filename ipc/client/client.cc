#include "ipc/client/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "ipc/proto/api_json.h"

namespace berth::ipc {

namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr std::string_view kUserAgent = "Berth-Client/0.1.0 (linux)";

// The stale keep-alive connection case: the daemon closed an idle connection
// just as we reused it. Safe to retry when nothing came back.
bool is_stale_connection(const Error& e) {
  return e.sys_errno() == EPIPE || e.sys_errno() == ECONNRESET || e.code() == Code::kCancelled;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

Result<unique_fd> dial_unix(const std::string& host, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Error::invalid("cannot connect to berthd at {}: invalid socket path", host);
  std::memcpy(addr.sun_path, path.data(), path.size());
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "cannot connect to berthd at {}: socket", host);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Error::sys(errno, "cannot connect to berthd at {}", host);
  return fd;
}

// "1.41" < "1.50" numerically per component.
bool version_less(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view v) {
    int major = 0, minor = 0;
    size_t dot = v.find('.');
    std::from_chars(v.data(), v.data() + v.substr(0, dot).size(), major);
    if (dot != std::string_view::npos) std::from_chars(v.data() + dot + 1, v.data() + v.size(), minor);
    return std::pair(major, minor);
  };
  return parts(a) < parts(b);
}

bool has_version_prefix(std::string_view path) {
  return path.size() > 2 && path.substr(0, 2) == "/v" && path[2] >= '0' && path[2] <= '9';
}

}  // namespace

Client::Client(std::string host, std::string socket_path)
    : host_(std::move(host)), socket_path_(std::move(socket_path)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<Client> Client::connect(const std::string& host) {
  std::string path;
  if (host.starts_with("unix://"))
    path = host.substr(7);
  else if (host.find("://") != std::string::npos)
    return Error(Code::kNotSupported,
                 fmt::format("cannot connect to berthd at {}: only unix:// hosts are supported", host));
  else
    path = host;
  Client c(host, path);
  c.fd_ = BERTH_TRY(dial_unix(host, path));
  return c;
}

Result<void> Client::ensure_connected() {
  if (fd_) return ok();
  fd_ = BERTH_TRY(dial_unix(host_, socket_path_));
  return ok();
}

void Client::disconnect() {
  fd_.reset();
  reused_ = false;
  streaming_ = false;
  rbuf_.clear();
  rpos_ = 0;
  parser_ = ResponseParser();
}

std::string Client::versioned(std::string_view path) const {
  if (api_version_.empty() || path.starts_with("/_ping") || has_version_prefix(path))
    return std::string(path);
  return fmt::format("/v{}{}", api_version_, path);
}

// `framing` is the body-related header lines, each ending in "\r\n".
std::string Client::request_head(std::string_view method, std::string_view path,
                                 std::string_view framing) const {
  return fmt::format("{} {} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: {}\r\n{}\r\n", method,
                     versioned(path), kUserAgent, framing);
}

Result<void> Client::send_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "send request to berthd at {}", host_);
    }
    data.remove_prefix(size_t(n));
  }
  return ok();
}

Result<size_t> Client::read_more() {
  if (rpos_ == rbuf_.size()) {
    rbuf_.clear();
    rpos_ = 0;
  } else if (rpos_ >= kReadBytes) {
    rbuf_.erase(0, rpos_);
    rpos_ = 0;
  }
  size_t old = rbuf_.size();
  rbuf_.resize(old + kReadBytes);
  ssize_t n;
  do {
    n = ::read(fd_.get(), rbuf_.data() + old, kReadBytes);
  } while (n < 0 && errno == EINTR);
  rbuf_.resize(old + size_t(n < 0 ? 0 : n));
  if (n < 0) return Error::sys(errno, "read response from berthd at {}", host_);
  return size_t(n);
}

Result<Response> Client::read_head(bool head_request) {
  if (head_request) parser_.expect_no_body();
  for (;;) {
    ResponseParser::Step step = BERTH_TRY(parser_.feed(unread()));
    rpos_ += step.consumed;
    if (step.event == ParseEvent::kHead) {
      streaming_ = true;
      const ResponseHead& h = parser_.head();
      return Response{h.status, h.headers, {}};
    }
    if (step.event != ParseEvent::kNeedMore)
      return Error::invalid("berthd at {} sent a response body before its head", host_);
    if (BERTH_TRY(read_more()) > 0) continue;
    if (parser_.in_message())
      return Error::invalid("berthd at {} closed the connection in the middle of a response", host_);
    return Error(Code::kCancelled, fmt::format("berthd at {} closed the connection without a response", host_));
  }
}

// Sends one request and reads the response head. A reused connection that
// turns out closed is re-dialled once: always when sending failed, and for
// idempotent methods when the daemon hung up without answering.
Result<Response> Client::exchange(std::string_view method, std::string_view path, std::string_view framing,
                                  std::string_view body) {
  if (streaming_) disconnect();  // abandon an unfinished stream
  std::string msg = request_head(method, path, framing);
  msg.append(body);
  for (int attempt = 0;; attempt++) {
    BERTH_TRY_VOID(ensure_connected());
    bool retry_ok = reused_ && attempt == 0;
    Result<void> sent = send_all(msg);
    if (!sent) {
      if (retry_ok && is_stale_connection(sent.error())) {
        disconnect();
        continue;
      }
      disconnect();
      return sent.error();
    }
    Result<Response> r = read_head(method == "HEAD");
    if (r) return r;
    bool nothing_read = !parser_.in_message();
    disconnect();
    if (retry_ok && nothing_read && is_idempotent(method) && is_stale_connection(r.error())) continue;
    return r.error();
  }
}

Result<std::optional<std::string>> Client::next_chunk() {
  if (!streaming_) return std::optional<std::string>();
  for (;;) {
    Result<ResponseParser::Step> step = parser_.feed(unread());
    if (!step) {
      disconnect();
      return step.error();
    }
    rpos_ += step->consumed;
    switch (step->event) {
      case ParseEvent::kBody:
        return std::optional<std::string>(std::string(step->body));
      case ParseEvent::kComplete:
        streaming_ = false;
        if (parser_.head().keep_alive && !parser_.head().upgrade)
          reused_ = true;
        else
          disconnect();
        return std::optional<std::string>();
      case ParseEvent::kHead:
        disconnect();
        return Error::invalid("berthd at {} sent an unexpected response", host_);
      case ParseEvent::kNeedMore:
        break;
    }
    Result<size_t> n = read_more();
    if (!n) {
      disconnect();
      return n.error();
    }
    if (*n > 0) continue;
    Result<ResponseParser::Step> fin = parser_.finish();  // EOF: ends a read-until-close body
    disconnect();
    if (!fin) return fin.error();
    return std::optional<std::string>();
  }
}

Result<std::string> Client::drain_body() {
  std::string body;
  for (;;) {
    std::optional<std::string> piece = BERTH_TRY(next_chunk());
    if (!piece) return body;
    body += *piece;
  }
}

Result<Response> Client::request(std::string_view method, std::string_view path, std::string_view body,
                                 std::string_view content_type) {
  std::string framing;
  if (!body.empty())
    framing = fmt::format("Content-Type: {}\r\nContent-Length: {}\r\n", content_type, body.size());
  else if (method == "POST" || method == "PUT")
    framing = "Content-Length: 0\r\n";
  Response r = BERTH_TRY(exchange(method, path, framing, body));
  r.body = BERTH_TRY(drain_body());
  return r;
}

Result<Response> Client::start_stream(std::string_view method, std::string_view path, std::string_view body,
                                     const Headers& extra) {
  std::string framing;
  for (const auto& [name, value] : extra) framing += fmt::format("{}: {}\r\n", name, value);
  if (!body.empty())
    framing += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  else if (method == "POST" || method == "PUT")
    framing += "Content-Length: 0\r\n";
  return exchange(method, path, framing, body);
}

Result<Client::Hijacked> Client::hijack(std::string_view method, std::string_view path, std::string_view body) {
  std::string framing = fmt::format("Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                                    body.empty() ? "text/plain" : "application/json", body.size());
  Response r = BERTH_TRY(exchange(method, path, framing, body));
  if (r.status != 101) {
    r.body = BERTH_TRY(drain_body());
    disconnect();  // like the docker CLI: a hijack connection is never reused
    if (r.status >= 400) return daemon_error(r);
    return Error(Code::kNotSupported, fmt::format("unable to upgrade to tcp, received {}", r.status));
  }
  // The parser stopped at the head's last byte; let it finish the message so
  // that what remains is exactly the raw stream.
  for (;;) {
    ResponseParser::Step step = BERTH_TRY(parser_.feed(unread()));
    rpos_ += step.consumed;
    if (step.event == ParseEvent::kComplete) break;
    if (BERTH_TRY(read_more()) == 0) break;
  }
  Hijacked h{std::move(fd_), std::string(unread())};
  disconnect();
  return h;
}

Result<void> Client::send_file_chunks(int fd) {
  std::string buf(kReadBytes, '\0');
  std::string out;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(errno, "read upload body");
    if (n == 0) break;
    out.clear();
    append_chunk(out, std::string_view(buf.data(), size_t(n)));
    BERTH_TRY_VOID(send_all(out));
  }
  return send_all(kLastChunk);
}

Result<Response> Client::upload(std::string_view method, std::string_view path, int fd,
                                std::string_view content_type) {
  if (streaming_) disconnect();
  std::string head =
      request_head(method, path, fmt::format("Content-Type: {}\r\nTransfer-Encoding: chunked\r\n", content_type));
  BERTH_TRY_VOID(ensure_connected());
  Result<void> sent = send_all(head);
  if (!sent && reused_ && is_stale_connection(sent.error())) {  // the body is not replayable; the head is
    disconnect();
    BERTH_TRY_VOID(ensure_connected());
    sent = send_all(head);
  }
  if (sent) sent = send_file_chunks(fd);
  // Even when sending failed, the daemon may have answered (e.g. 400) first.
  Result<Response> r = read_head(false);
  if (!r) {
    disconnect();
    return sent ? r.error() : sent.error();
  }
  r->body = BERTH_TRY(drain_body());
  return r;
}

Result<void> Client::negotiate() {
  Response r = BERTH_TRY(request("HEAD", "/_ping"));
  if (r.status < 200 || r.status >= 300) r = BERTH_TRY(request("GET", "/_ping"));
  if (r.status < 200 || r.status >= 300) return daemon_error(r);
  std::string_view v = r.header("api-version");
  if (v.empty())
    api_version_ = kFallbackApiVersion;
  else
    api_version_ = version_less(v, kClientApiVersion) ? std::string(v) : std::string(kClientApiVersion);
  return ok();
}

std::string error_message(const Response& r) { return message_from_error_body(r.body); }

Error daemon_error(const Response& r) {
  Code code = Code::kSystem;
  switch (r.status) {
    case 304: code = Code::kNotModified; break;
    case 400: code = Code::kInvalidArgument; break;
    case 404: code = Code::kNotFound; break;
    case 409: code = Code::kConflict; break;
    default: break;
  }
  std::string msg = error_message(r);
  if (msg.empty()) msg = fmt::format("{} {}", r.status, status_reason(r.status));
  return Error(code, "Error response from daemon: " + msg);
}

}  // namespace berth::ipc
