#include "ipc/server/connection.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "ipc/proto/response.h"
#include "ipc/server/json_util.h"
#include "ipc/server/server.h"

namespace berth::ipc {

namespace {
int status_for(const Error& e) {
  // A full disk (or quota) is the storage's, not berthd's: 507, whatever
  // the step that met it.
  if (e.sys_errno() == ENOSPC || e.sys_errno() == EDQUOT) return 507;
  switch (e.code()) {
    case Code::kNotFound: return 404;
    case Code::kInvalidArgument: return 400;
    case Code::kConflict:
    case Code::kAlreadyExists: return 409;
    case Code::kNotModified: return 304;
    case Code::kTooLarge: return 413;
    case Code::kNotSupported: return 501;
    default: return 500;
  }
}
}  // namespace

Connection::Connection(Server& s, unique_fd fd, uint64_t serial, int64_t header_timeout_ns,
                       std::unique_ptr<TlsSession> tls)
    : s_(s),
      fd_(std::move(fd)),
      serial_(serial),
      header_timeout_ns_(header_timeout_ns),
      rbuf_(new char[kRecvBytes]),
      tls_(std::move(tls)) {
  if (tls_) tls_buf_.reset(new char[kRecvBytes]);
  recv_c_.set_callback([this](int32_t res, uint32_t) { tls_ ? tls_recv_done(res) : recv_done(res); });
  send_c_.set_callback([this](int32_t res, uint32_t) { send_done(res); });
  upload_c_.set_callback([this](int32_t res, uint32_t) { upload_write_done(res); });
}

Connection::~Connection() { drop_upload(); }

// An upload file the handler left (or never got): deleted on the job lane,
// since freeing a large file's blocks can take milliseconds.
void Connection::drop_upload() {
  if (upload_path_.empty()) return;
  std::string path = std::move(upload_path_);
  upload_path_.clear();
  if (!s_.reactor().run_job([path] { ::unlink(path.c_str()); }, [] {}))
    log::warn("api", "the job backlog is full: upload file {} stays until restart", path);
}

void Connection::start() {
  await_head();
  recv();
}

void Connection::await_head() { head_deadline_ns_ = header_timeout_ns_ > 0 ? now_ns() + header_timeout_ns_ : 0; }

void Connection::head_timed_out() {
  head_deadline_ns_ = 0;
  if (closing_ || busy_ || mode_ != Mode::kHttp) return;
  if (!parser_.in_message() && rlen_ == rpos_) return close();   // idle: nothing was asked
  log::debug("api", "request head not received in time: closing the connection");
  busy_ = true;
  close_after_send_ = true;
  respond(408, "{\"message\":\"request head not received in time\"}\n");
}

// With TLS, bytes may be ready without a recv (decrypted ones the session
// holds): recv_step() hands them to recv_done() at once, which may call
// recv() again. That inner call only marks recv_again_, and this loop runs
// the next step: no recursion however many records are ready.
void Connection::recv() {
  if (in_recv_) {
    recv_again_ = true;
    return;
  }
  in_recv_ = true;
  do {
    recv_again_ = false;
    recv_step();
  } while (recv_again_);
  in_recv_ = false;
}

void Connection::recv_step() {
  // A hijacked client's chunk still with its consumer: reading resumes
  // when it says so (deliver_input), not before.
  if (closing_ || peer_closed_ || recv_c_.in_flight() || input_waiting_) return;
  // The kernel owns [rlen_, kRecvBytes) while the recv is in flight, so the
  // unparsed bytes are moved to the front only here, never during a recv.
  if (rpos_ > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + rpos_, rlen_ - rpos_);
    rlen_ -= rpos_;
    rpos_ = 0;
  }
  if (rlen_ == kRecvBytes) return;  // parsing resumes and frees space first
  if (!tls_) return s_.reactor().recv(fd_.get(), rbuf_.get() + rlen_, unsigned(kRecvBytes - rlen_), recv_c_);
  if (tls_->readable()) return tls_pump();
  s_.reactor().recv(fd_.get(), tls_buf_.get(), unsigned(kRecvBytes), recv_c_);
}

void Connection::tls_recv_done(int32_t res) {
  if (closing_) return maybe_release();
  if (res <= 0) return recv_done(res);   // gone (with or without close_notify)
  tls_->feed(std::string_view(tls_buf_.get(), size_t(res)));
  recv();
}

// Decrypts what the session holds into rbuf_ (running the handshake while
// it is not done), and sends whatever records that made.
void Connection::tls_pump() {
  size_t n = 0;
  TlsSession::Status st = tls_->read(rbuf_.get() + rlen_, kRecvBytes - rlen_, &n);
  switch (st) {
    case TlsSession::Status::kOk:
      send_next();
      return recv_done(int32_t(n));
    case TlsSession::Status::kWantMore:
      send_next();
      if (closing_) return;
      return s_.reactor().recv(fd_.get(), tls_buf_.get(), unsigned(kRecvBytes), recv_c_);
    case TlsSession::Status::kClosed:
      send_next();
      return recv_done(0);
    case TlsSession::Status::kFailed:
      return tls_failed();
  }
}

// A failed handshake (no or a wrong client certificate) or a broken
// record: the alert OpenSSL made is sent, then the connection closes.
void Connection::tls_failed() {
  uint64_t skipped;
  if (s_.tls_log().allow(&skipped))
    log::warn("api", "TLS connection refused: {}{}", tls_->error(),
              skipped ? fmt::format(" ({} more like it)", skipped) : "");
  peer_closed_ = true;
  close_after_send_ = true;
  send_next();   // the alert, then the close
}

void Connection::recv_done(int32_t res) {
  if (closing_) return maybe_release();
  if (res <= 0) {
    if (res < 0 && res != -ECONNRESET && res != -ECANCELED)
      log::debug("api", "recv: {}", std::strerror(-res));
    peer_closed_ = true;
    // A hijacked client half-closes when its stdin ends: keep sending output.
    if (mode_ == Mode::kHijacked && res == 0) {
      if (input_.eof) input_.eof();
      return;
    }
    // A client gone while its response streams (wait, logs) is cancelled;
    // requests it sent before a half-close are still answered.
    if (res < 0 || mode_ == Mode::kStream || (busy_ && close_on_hangup_)) return close();
    return parse();
  }
  if (mode_ == Mode::kHijacked) {
    if (!input_.data) {  // nobody reads this client's input: discard it
      rpos_ = rlen_ = 0;
      return recv();
    }
    std::string_view chunk(rbuf_.get() + rlen_, size_t(res));
    rlen_ += size_t(res);
    return deliver_input(chunk);
  }
  rlen_ += size_t(res);
  parse();
}

void Connection::parse() {
  while (!busy_ && !closing_ && !upload_c_.in_flight() && mode_ == Mode::kHttp) {
    auto step = parser_.feed(std::string_view(rbuf_.get() + rpos_, rlen_ - rpos_));
    if (!step) {
      close_after_send_ = true;
      busy_ = true;
      Error e = std::move(step.error());
      // kTooLarge from the parser is the header block (431) or a declared
      // body beyond the parser's own limit (413).
      bool header = e.message().find("header") != std::string::npos;
      respond(e.code() == Code::kTooLarge ? (header ? 431 : 413) : 400,
              fmt::format("{{\"message\":{}}}", json_quote(e.message())));
      return;
    }
    std::string_view body = step->body;
    Result<void> r = ok();
    if (step->event == ParseEvent::kHead) r = head_ready();
    if (step->event == ParseEvent::kBody) r = body_piece(body);
    rpos_ += step->consumed;
    if (!r) {
      busy_ = true;
      close_after_send_ = true;  // the rest of this body will not be read
      respond_error(r.error());
      return;
    }
    if (step->event == ParseEvent::kComplete) {
      request_done();
      continue;
    }
    if (step->event == ParseEvent::kNeedMore) {
      if (peer_closed_) {  // no more requests can arrive
        close_after_send_ = true;
        send_next();   // closes once all is sent
        return;
      }
      break;
    }
  }
  recv();
}

Result<void> Connection::head_ready() {
  const Request& req = parser_.head();
  head_deadline_ns_ = 0;
  body_.clear();
  if (ext_ && !ext_->busy()) ext_.reset();  // the previous response's reader
  head_only_ = req.method == "HEAD";
  keep_alive_ = req.keep_alive;
  if (s_.is_upload(req)) {
    // Created by the ring (IORING_OP_OPENAT), not on this thread: parse()
    // waits while upload_c_ is in flight, so no body byte comes before it.
    upload_path_ = s_.upload_dir() + "/upload-" + random_id().substr(0, 16);
    upload_off_ = 0;
    upload_c_.set_callback([this](int32_t res, uint32_t) { upload_open_done(res); });
    s_.reactor().openat(AT_FDCWD, upload_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, upload_c_);
    return ok();
  }
  if (req.content_length > int64_t(body_limit_))
    return Error::make(Code::kTooLarge, "request body too large: {} bytes (limit {})", req.content_length, body_limit_);
  return ok();
}

Result<void> Connection::body_piece(std::string_view piece) {
  if (upload_fd_) {
    upload_buf_.assign(piece);
    s_.reactor().write(upload_fd_.get(), upload_buf_.data(), unsigned(upload_buf_.size()), upload_off_, upload_c_);
    return ok();
  }
  if (body_.size() + piece.size() > body_limit_)
    return Error::make(Code::kTooLarge, "request body too large (limit {} bytes)", body_limit_);
  body_.append(piece);
  return ok();
}

void Connection::upload_open_done(int32_t res) {
  upload_c_.set_callback([this](int32_t r, uint32_t) { upload_write_done(r); });
  if (res >= 0) upload_fd_.reset(res);
  if (closing_) return maybe_release();
  if (res < 0) {
    busy_ = true;
    close_after_send_ = true;  // the rest of this body will not be read
    respond_error(Error::sys(-res, "create upload file {}", upload_path_));
    upload_path_.clear();
    return;
  }
  parse();
}

void Connection::upload_write_done(int32_t res) {
  if (closing_) return maybe_release();
  if (res < 0) {
    busy_ = true;
    close_after_send_ = true;
    upload_fd_.reset();
    respond_error(Error::sys(-res, "write upload to {}", upload_path_));
    return;
  }
  upload_off_ += uint64_t(res);
  if (size_t(res) < upload_buf_.size()) {
    upload_buf_.erase(0, size_t(res));
    s_.reactor().write(upload_fd_.get(), upload_buf_.data(), unsigned(upload_buf_.size()), upload_off_, upload_c_);
    return;
  }
  upload_buf_.clear();
  parse();
}

void Connection::request_done() {
  busy_ = true;
  upload_fd_.reset();
  s_.dispatch(*this);
  // The handler owns the upload file now (or it is removed with the connection).
}

void Connection::respond(int status, std::string body, std::string_view content_type, const Headers& extra) {
  Headers h = s_.standard_headers();
  bool has_body = status != 204 && status != 304 && status >= 200;
  if (has_body || head_only_) {
    h.emplace_back("Content-Type", std::string(content_type));
    h.emplace_back("Content-Length", std::to_string(body.size()));
  }
  for (auto& kv : extra) h.push_back(kv);
  // An upgrade request answered without 101: the client may already be
  // sending raw stream bytes, so the connection ends here.
  if (request().upgrade && mode_ != Mode::kHijacked) close_after_send_ = true;
  if (!keep_alive_ || close_after_send_) h.emplace_back("Connection", "close");
  std::string out = response_head(status, h);
  if (has_body && !head_only_) out += body;
  queue(std::move(out));
  response_finished();
}

void Connection::respond_error(const Error& e) {
  int status = status_for(e);
  if (status == 304) return respond_empty(304);
  if (status >= 500) log::error("api", "{} {}: {}", request().method, request().path, e.message());
  respond(status, fmt::format("{{\"message\":{}}}\n", json_quote(e.message())));
}

void Connection::respond_empty(int status) { respond(status, std::string()); }

void Connection::start_stream(int status, std::string_view content_type, const Headers& extra) {
  mode_ = Mode::kStream;
  head_deadline_ns_ = 0;
  Headers h = s_.standard_headers();
  h.emplace_back("Content-Type", std::string(content_type));
  for (auto& kv : extra) h.push_back(kv);
  h.emplace_back("Transfer-Encoding", "chunked");
  queue(response_head(status, h));
}

void Connection::send_chunk(std::string_view data) {
  if (closing_ || data.empty()) return;
  std::string c;
  append_chunk(c, data);
  queue(std::move(c));
}

void Connection::end_stream() {
  if (closing_) return;
  queue(std::string(kLastChunk));
  mode_ = Mode::kHttp;
  response_finished();
}

void Connection::hijack(std::string_view content_type, HijackInput in) {
  mode_ = Mode::kHijacked;
  head_deadline_ns_ = 0;
  input_ = std::move(in);
  Headers h = s_.standard_headers();
  h.emplace_back("Content-Type", std::string(content_type));
  // 101 only to a client that asked to upgrade to tcp (the docker CLI).
  // Others (dockerode, testcontainers, docker-py) send a plain POST and get
  // 200 with the stream as the body on the same connection, which ends it
  // by closing, as Docker answers them.
  if (request().upgrade && iequals(request().header("upgrade"), "tcp")) {
    h.emplace_back("Connection", "Upgrade");
    h.emplace_back("Upgrade", "tcp");
    queue(response_head(101, h));
  } else {
    h.emplace_back("Connection", "close");
    queue(response_head(200, h));
  }
  start_hijacked_input();
}

void Connection::hijack_websocket(std::string_view accept_key, HijackInput in) {
  mode_ = Mode::kHijacked;
  input_ = std::move(in);
  Headers h = s_.standard_headers();
  h.emplace_back("Upgrade", "websocket");
  h.emplace_back("Connection", "Upgrade");
  h.emplace_back("Sec-WebSocket-Accept", std::string(accept_key));
  queue(response_head(101, h));
  start_hijacked_input();
}

void Connection::start_hijacked_input() {
  // Bytes that came after the request are the first input bytes.
  if (input_.data && !recv_c_.in_flight() && rlen_ > rpos_)
    return deliver_input(std::string_view(rbuf_.get() + rpos_, rlen_ - rpos_));
  if (!recv_c_.in_flight()) rpos_ = rlen_ = 0;
  recv();
}

// Hands a chunk to the input consumer; reading resumes (with an empty
// buffer) once it says so. No recv is in flight meanwhile.
void Connection::deliver_input(std::string_view data) {
  Server* s = &s_;
  uint64_t serial = serial_;
  input_waiting_ = true;
  input_.data(data, [s, serial] {
    Connection* c = s->lookup(serial);
    if (!c || !c->input_waiting_ || c->recv_c_.in_flight()) return;
    c->input_waiting_ = false;
    c->rpos_ = c->rlen_ = 0;
    if (!c->tls_) return c->recv();
    // With TLS the next chunk may be decrypted at once: it is handed over
    // from the loop, not from inside the consumer's own call.
    s->reactor().defer([s, serial] {
      if (Connection* c2 = s->lookup(serial)) c2->recv();
    });
  });
}

void Connection::send_raw(std::string_view data) {
  if (closing_ || data.empty()) return;
  queue(std::string(data));
}

void Connection::finish_hijack() {
  close_after_send_ = true;
  send_next();   // closes once all is sent
}

void Connection::response_finished() {
  if (mode_ != Mode::kHttp) return;
  busy_ = false;
  answered_any_ = true;
  close_on_hangup_ = false;
  body_.clear();
  drop_upload();
  if (!keep_alive_) close_after_send_ = true;
  if (close_after_send_) {
    send_next();   // closes once all is sent
    return;
  }
  await_head();
  s_.reactor().defer([this] { if (!closing_) parse(); });
}

void Connection::queue(std::string data) {
  if (closing_) return;
  out_bytes_ += data.size();
  outq_.push_back(std::move(data));
  if (out_bytes_ > kMaxQueuedBytes && mode_ != Mode::kHttp) {
    // A streaming client this far behind is dropped; see the header.
    log::warn("api", "dropping slow client: {} bytes queued", out_bytes_);
    return close();
  }
  send_next();
}

void Connection::send_next() {
  if (send_c_.in_flight() || closing_) return;
  if (sent_ == sending_.size()) {
    if (!has_output() && drained_) {
      auto fn = std::move(drained_);
      drained_ = nullptr;
      fn();
      if (closing_ || send_c_.in_flight()) return;
    }
    if (!has_output()) {
      if (!close_after_send_ || (busy_ && mode_ != Mode::kHijacked)) return;
      // A TLS peer is told the end (close_notify) before the socket closes.
      if (!tls_ || tls_->shut()) return close();
      tls_->shutdown();
      if (!tls_->has_output()) return close();
    }
    if (!take_next()) return;
  }
  s_.reactor().send(fd_.get(), sending_.data() + sent_, unsigned(sending_.size() - sent_), send_c_);
}

// The next bytes for the ring into sending_: the front of the queue, or
// with TLS the session's records (handshake ones first, then the queue's
// front encrypted). out_bytes_ then counts what is on the wire.
bool Connection::take_next() {
  sent_ = 0;
  if (!tls_) {
    sending_ = std::move(outq_.front());
    outq_.pop_front();
    return true;
  }
  size_t plain = 0;
  if (!tls_->has_output() && !outq_.empty()) {
    plain = outq_.front().size();
    Result<void> w = tls_->write(outq_.front());
    outq_.pop_front();
    if (!w) {
      log::warn("api", "{}", w.error().message());
      close();
      return false;
    }
  }
  sending_ = tls_->take_output();
  out_bytes_ = out_bytes_ - plain + sending_.size();
  return !sending_.empty();
}

void Connection::send_done(int32_t res) {
  if (closing_) return maybe_release();
  if (res < 0) return close();
  sent_ += size_t(res);
  out_bytes_ -= size_t(res);
  send_next();
}

void Connection::drain() {
  if (closing_) return;
  if (mode_ != Mode::kHttp) return close();
  if (!busy_) {
    int pending = 0;
    bool asked = parser_.in_message() || rlen_ != rpos_ || (::ioctl(fd_.get(), FIONREAD, &pending) == 0 && pending > 0);
    // An answer still being sent (a response just finished, or TLS
    // records) goes out first: close() would cancel its send.
    bool sending = send_c_.in_flight() || sent_ < sending_.size() || has_output();
    if (!asked && answered_any_ && !sending) return close();
  }
  close_after_send_ = true;   // response_finished() closes after the answer
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  s_.forget(serial_);
  auto fns = std::move(on_close_);
  on_close_.clear();
  for (auto& fn : fns) fn();
  drained_ = nullptr;
  if (ext_) ext_->cancel();
  ::shutdown(fd_.get(), SHUT_RDWR);
  s_.reactor().cancel(recv_c_);
  s_.reactor().cancel(send_c_);
  maybe_release();
}

void Connection::maybe_release() {
  if (released_ || recv_c_.in_flight() || send_c_.in_flight() || upload_c_.in_flight()) return;
  if (ext_ && ext_->busy()) return;
  released_ = true;
  s_.release(this);
}

}  // namespace berth::ipc
