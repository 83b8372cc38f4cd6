// Connection: one client connection to the API socket.
//
// Thread: reactor thread only. The Server owns every Connection; a
// Connection asks the Server to release it once closed and idle, and the
// Server destroys it from a deferred call, never from inside one of its own
// completions.
//
// Modes: kHttp parses requests one at a time (a pipelined request waits
// until the previous response is complete); kStream holds a chunked
// response open (wait, logs); kHijacked is a raw byte pipe after
// "101 UPGRADED" (attach).
//
// TLS (tcp:// endpoints, tls.h): the ring receives records into tls_buf_,
// the session decrypts them into rbuf_, and the rest of the connection sees
// plaintext exactly as on a Unix socket; what is queued is encrypted as it
// is handed to the ring's send, after any handshake records. The handshake
// is bounded by the header timeout like a request head.
//
// Back-pressure: at most one recv and one send are in flight. Output queued
// for the client is bounded by kMaxQueuedBytes; a streaming client that
// falls further behind is dropped (closed) so it can never hold up the
// container or other clients. The container's log is written before the
// fan-out, so a dropped client loses nothing that `logs` cannot replay.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"
#include "ipc/proto/request.h"
#include "ipc/server/tls.h"

namespace berth::ipc {

class Server;

class Connection {
 public:
  static constexpr size_t kRecvBytes = 64 * 1024;
  static constexpr size_t kMaxJsonBody = 4 << 20;
  static constexpr size_t kMaxQueuedBytes = 8 << 20;
  enum class Mode { kHttp, kStream, kHijacked };

  // `header_timeout_ns`: see head_overdue(). `tls`: the session when the
  // endpoint speaks TLS, else null.
  Connection(Server& s, unique_fd fd, uint64_t serial, int64_t header_timeout_ns,
             std::unique_ptr<TlsSession> tls = nullptr);
  // A stable name for async callbacks: Server::lookup(serial) finds the
  // connection while it is open, nullptr after it closed.
  uint64_t serial() const { return serial_; }
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();

  // --- responses (one per request) ---
  void respond(int status, std::string body, std::string_view content_type = "application/json",
               const Headers& extra = {});
  void respond_error(const Error& e);
  void respond_empty(int status);
  // Chunked streaming response; end_stream() completes it.
  void start_stream(int status, std::string_view content_type, const Headers& extra = {});
  void send_chunk(std::string_view data);
  void end_stream();
  // What a hijacked client sends (attach/exec stdin). Each chunk goes to
  // `data`, which must copy it; the next read waits until `resume` is called
  // (so a container slow to read its stdin slows the client, not berthd's
  // memory). `resume` is safe to call after the connection is gone. `eof`:
  // the client half-closed its side.
  struct HijackInput {
    std::function<void(std::string_view data, std::function<void()> resume)> data;
    std::function<void()> eof;
  };
  // 101 UPGRADED, then raw bytes with send_raw(); finish_hijack() flushes and
  // closes. Without `in.data`, whatever the client sends is discarded.
  void hijack(std::string_view content_type, HijackInput in = {});
  // The same after a WebSocket handshake (101 Switching Protocols with
  // Sec-WebSocket-Accept): the caller frames output and decodes input
  // (websocket.h).
  void hijack_websocket(std::string_view accept_key, HijackInput in);
  void send_raw(std::string_view data);
  void finish_hijack();

  // Body of the current request (JSON routes) or a temp file (uploads).
  const Request& request() const { return parser_.head(); }
  const std::string& body() const { return body_; }
  const std::string& upload_path() const { return upload_path_; }

  // Per-request state that outlives a handler call (a logs reader). It is
  // cancelled when the connection closes and the connection is not released
  // while it is busy().
  class Extension {
   public:
    virtual ~Extension() = default;
    virtual void cancel() {}
    virtual bool busy() const { return false; }
  };
  void set_extension(std::unique_ptr<Extension> e) { ext_ = std::move(e); }
  // Bytes queued but not yet sent, and a one-shot call when all are sent.
  size_t queued_bytes() const { return out_bytes_; }
  void when_drained(std::function<void()> fn) { drained_ = std::move(fn); }
  // Called by an extension when it becomes idle after close.
  void extension_idle() { if (closing_) maybe_release(); }

  // Runs when the connection closes (cancel waiters, detach).
  void on_close(std::function<void()> fn) { on_close_.push_back(std::move(fn)); }
  // For the current request: the client hanging up closes the connection
  // (and so runs the on_close calls) even before the response starts, as
  // it does once a stream has started. For work worth stopping when nobody
  // waits for it (a pull resolving its manifest); reset with the response.
  void close_on_hangup() { close_on_hangup_ = true; }
  bool closed() const { return closing_; }
  void close();
  // A live upgrade (Server::close with drain): a plain request being
  // handled, one whose bytes have arrived, or the first one of a new
  // connection (its client connected and is about to send it) is answered
  // and then the connection closes; an idle keep-alive connection, a
  // stream or a hijacked session closes now. The server bounds the wait.
  void drain();

  // The request head that was due has not come by `now` (the server's
  // sweep): since the connection started or its last response ended, the
  // client had header_timeout_ns. head_timed_out() answers 408 if a part of
  // a head came (and closes), or just closes an idle connection.
  bool head_overdue(int64_t now) const { return head_deadline_ns_ != 0 && now > head_deadline_ns_; }
  void head_timed_out();

 private:
  void recv();
  void recv_step();
  void recv_done(int32_t res);
  void tls_recv_done(int32_t res);
  void tls_pump();
  void tls_failed();
  bool has_output() const { return !outq_.empty() || (tls_ && tls_->has_output()); }
  bool take_next();
  void deliver_input(std::string_view data);
  void parse();
  Result<void> head_ready();
  Result<void> body_piece(std::string_view piece);
  void request_done();
  void upload_open_done(int32_t res);
  void start_hijacked_input();
  void drop_upload();
  void upload_write_done(int32_t res);
  void queue(std::string data);
  void send_next();
  void send_done(int32_t res);
  void response_finished();
  void maybe_release();

  void await_head();

  Server& s_;
  unique_fd fd_;
  uint64_t serial_;
  int64_t header_timeout_ns_;
  int64_t head_deadline_ns_ = 0;   // 0: no head is awaited (a request is being handled, or a stream)
  Mode mode_ = Mode::kHttp;
  RequestParser parser_;
  HijackInput input_;
  std::unique_ptr<char[]> rbuf_;
  std::unique_ptr<TlsSession> tls_;
  std::unique_ptr<char[]> tls_buf_;   // received records (the kernel's while a recv is in flight)
  bool in_recv_ = false, recv_again_ = false;   // recv()'s trampoline: see recv()
  bool input_waiting_ = false;   // hijacked: a chunk is with input_.data, not yet resumed
  size_t rpos_ = 0, rlen_ = 0;   // unparsed bytes are rbuf_[rpos_, rlen_)
  bool busy_ = false;           // a request is being handled
  bool head_only_ = false;      // HEAD: no body in the response
  bool keep_alive_ = true;
  bool closing_ = false, peer_closed_ = false, close_after_send_ = false;
  bool released_ = false;
  bool answered_any_ = false;   // a response was finished on it
  bool close_on_hangup_ = false;

  std::string body_;
  size_t body_limit_ = kMaxJsonBody;
  std::string upload_path_;
  unique_fd upload_fd_;
  uint64_t upload_off_ = 0;
  std::string upload_buf_;
  reactor::Completion upload_c_;

  std::deque<std::string> outq_;
  size_t out_bytes_ = 0;
  std::string sending_;
  size_t sent_ = 0;
  reactor::Completion recv_c_, send_c_;
  std::vector<std::function<void()>> on_close_;
  std::unique_ptr<Extension> ext_;
  std::function<void()> drained_;
};

}  // namespace berth::ipc
