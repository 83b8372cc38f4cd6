// TLS for the API's TCP endpoints (-H tcp://... with --tlsverify): mutual
// TLS with OpenSSL, driven through memory BIOs so that OpenSSL never
// touches a socket. The connection moves the bytes on the ring: what it
// receives goes in with feed(), plaintext comes out of read(); plaintext
// goes in with write() and the records to send come out of take_output().
// No call blocks: each does only CPU work on bytes already here.
//
// Both sides prove themselves: berthd presents --tlscert/--tlskey, and a
// client must present a certificate signed by --tlscacert (Docker's
// --tlsverify), or the handshake fails. TLS 1.2 at least.
//
// Thread: TlsContext::load() at start-up (it reads files); everything
// else on the reactor thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

namespace berth::ipc {

struct TlsFiles {
  std::string ca_cert;   // PEM: the CA that signs client certificates
  std::string cert;      // PEM: berthd's certificate (chain)
  std::string key;       // PEM: its private key
};

class TlsSession;

class TlsContext {
 public:
  static Result<std::unique_ptr<TlsContext>> load(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The server side of one new connection.
  Result<std::unique_ptr<TlsSession>> accept() const;

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

class TlsSession {
 public:
  enum class Status {
    kOk,          // read(): bytes were produced (or the call had nothing to do)
    kWantMore,    // read(): more received bytes are needed
    kClosed,      // the peer sent close_notify
    kFailed,      // a handshake or protocol error: error() says which; send take_output() (an alert), then close
  };
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Bytes received from the peer.
  void feed(std::string_view cipher);
  // Decrypts into [buf, buf+cap): `*n` bytes (0 unless kOk). Runs the
  // handshake first while it is not done.
  Status read(char* buf, size_t cap, size_t* n);
  // True when read() may produce bytes without more feed() (decrypted
  // bytes OpenSSL holds, or received bytes not yet processed).
  bool readable() const;
  // Encrypts `plain` (after the handshake: the server answers only
  // requests, which come after it).
  Result<void> write(std::string_view plain);
  // Appends close_notify to the output (once; none before the handshake
  // finished).
  void shutdown();
  bool shut() const { return shut_; }
  // Records to send, in order; take_output() empties them.
  std::string take_output();
  bool has_output() const;
  bool handshake_done() const;
  const std::string& error() const { return error_; }

 private:
  friend class TlsContext;
  TlsSession(ssl_st* ssl, bio_st* in, bio_st* out) : ssl_(ssl), in_(in), out_(out) {}
  Status fail(int ret);

  ssl_st* ssl_;
  bio_st* in_;    // owned by ssl_
  bio_st* out_;   // owned by ssl_
  bool shut_ = false;
  std::string error_;
};

}  // namespace berth::ipc
