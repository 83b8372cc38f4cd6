#include "ipc/server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>

namespace berth::ipc {

namespace {

// OpenSSL's queued errors as one line ("...; ..."), emptying the queue.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ::ERR_get_error()) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { ::SSL_CTX_free(c); }
};

}  // namespace

Result<std::unique_ptr<TlsContext>> TlsContext::load(const TlsFiles& f) {
  ::ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(::SSL_CTX_new(::TLS_server_method()));
  if (!ctx) return Error::invalid("TLS: {}", openssl_errors());
  ::SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No renegotiation (a client could make the server redo the costly half
  // of a handshake at will), no resumption: each connection proves itself.
  ::SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  ::SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  ::SSL_CTX_set_num_tickets(ctx.get(), 0);
  static const unsigned char kSessionContext[] = "berthd";
  ::SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  if (::SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert.c_str()) != 1)
    return Error::invalid("--tlscert {}: {}", f.cert, openssl_errors());
  if (::SSL_CTX_use_PrivateKey_file(ctx.get(), f.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return Error::invalid("--tlskey {} (the key of --tlscert {}): {}", f.key, f.cert, openssl_errors());
  if (::SSL_CTX_check_private_key(ctx.get()) != 1)
    return Error::invalid("--tlskey {} does not match --tlscert {}: {}", f.key, f.cert, openssl_errors());
  if (::SSL_CTX_load_verify_locations(ctx.get(), f.ca_cert.c_str(), nullptr) != 1)
    return Error::invalid("--tlscacert {}: {}", f.ca_cert, openssl_errors());
  STACK_OF(X509_NAME)* names = ::SSL_load_client_CA_file(f.ca_cert.c_str());
  if (!names) return Error::invalid("--tlscacert {}: no CA certificate in it: {}", f.ca_cert, openssl_errors());
  ::SSL_CTX_set_client_CA_list(ctx.get(), names);   // takes ownership
  ::SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return std::unique_ptr<TlsContext>(new TlsContext(ctx.release()));
}

TlsContext::~TlsContext() { ::SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsSession>> TlsContext::accept() const {
  ::ERR_clear_error();
  SSL* ssl = ::SSL_new(ctx_);
  if (!ssl) return Error::invalid("TLS session: {}", openssl_errors());
  BIO* in = ::BIO_new(::BIO_s_mem());
  BIO* out = ::BIO_new(::BIO_s_mem());
  if (!in || !out) {
    ::BIO_free(in);
    ::BIO_free(out);
    ::SSL_free(ssl);
    return Error::invalid("TLS session buffers: {}", openssl_errors());
  }
  // An empty input buffer means "more to come", not end of stream.
  BIO_set_mem_eof_return(in, -1);
  ::SSL_set_bio(ssl, in, out);
  ::SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(ssl, in, out));
}

TlsSession::~TlsSession() { ::SSL_free(ssl_); }

void TlsSession::feed(std::string_view cipher) {
  while (!cipher.empty()) {
    int n = ::BIO_write(in_, cipher.data(), int(std::min<size_t>(cipher.size(), INT_MAX)));
    if (n <= 0) break;   // a memory BIO grows; only allocation failure stops it
    cipher.remove_prefix(size_t(n));
  }
}

TlsSession::Status TlsSession::read(char* buf, size_t cap, size_t* n) {
  *n = 0;
  if (!error_.empty()) return Status::kFailed;
  ::ERR_clear_error();
  int r = ::SSL_read(ssl_, buf, int(std::min<size_t>(cap, INT_MAX)));
  if (r > 0) {
    *n = size_t(r);
    return Status::kOk;
  }
  return fail(r);
}

TlsSession::Status TlsSession::fail(int ret) {
  switch (::SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:   // a memory BIO takes every write: not expected, and harmless
      return Status::kWantMore;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    default:
      break;
  }
  error_ = openssl_errors();
  long v = ::SSL_get_verify_result(ssl_);
  if (v != X509_V_OK) error_ += std::string(" (client certificate: ") + ::X509_verify_cert_error_string(v) + ")";
  return Status::kFailed;
}

bool TlsSession::readable() const {
  return ::SSL_pending(ssl_) > 0 || BIO_ctrl_pending(in_) > 0;
}

Result<void> TlsSession::write(std::string_view plain) {
  ::ERR_clear_error();
  while (!plain.empty()) {
    int r = ::SSL_write(ssl_, plain.data(), int(std::min<size_t>(plain.size(), INT_MAX)));
    if (r <= 0) {
      (void)fail(r);
      return Error::invalid("TLS write: {}", error_.empty() ? "not ready" : error_);
    }
    plain.remove_prefix(size_t(r));
  }
  return ok();
}

void TlsSession::shutdown() {
  if (shut_) return;
  shut_ = true;
  ::ERR_clear_error();
  if (::SSL_is_init_finished(ssl_)) (void)::SSL_shutdown(ssl_);
  ::ERR_clear_error();
}

std::string TlsSession::take_output() {
  std::string out;
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return out;
  out.resize(pending);
  int n = ::BIO_read(out_, out.data(), int(std::min<size_t>(pending, INT_MAX)));
  out.resize(n > 0 ? size_t(n) : 0);
  return out;
}

bool TlsSession::has_output() const { return BIO_ctrl_pending(out_) > 0; }

bool TlsSession::handshake_done() const { return ::SSL_is_init_finished(ssl_) == 1; }

}  // namespace berth::ipc
