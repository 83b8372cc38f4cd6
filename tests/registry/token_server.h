// TokenServer: a minimal bearer-token service for a test registry
// (distribution's token auth, docs/spec/auth/token.md and jwt.md). It
// listens on 127.0.0.1:<port> on a thread of its own, checks HTTP basic
// credentials when it was given some, grants every scope asked for, and
// answers {"token": <JWT>, "expires_in": 60}: an ES256 JWT whose x5c header
// carries its self-signed certificate, which the registry trusts as its
// rootcertbundle. It counts the tokens it issued.
//
// Threads: start()/stop() on the test's thread; the server's own thread
// answers requests until stop().
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace berth::test {

class TokenServer {
 public:
  static constexpr const char* kService = "berth-test";
  static constexpr const char* kIssuer = "berth-test-issuer";

  // `dir`: where its key and certificate go. Empty user: anonymous allowed.
  TokenServer(std::string dir, int port, std::string user, std::string password);
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  bool start(std::string* err);
  void stop();
  std::string realm() const;
  const std::string& cert_path() const { return cert_; }
  int tokens_issued() const { return issued_.load(); }
  int refused() const { return refused_.load(); }

 private:
  void serve();
  std::string answer(const std::string& request);
  std::string sign(const std::string& input) const;

  std::string dir_, cert_, key_;
  int port_;
  std::string user_, password_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> issued_{0}, refused_{0};
  std::string cert_der_b64_;
  void* pkey_ = nullptr;  // EVP_PKEY*
};

}  // namespace berth::test
