#include "tests/registry/token_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "fs/registry/auth_config.h"
#include "tools/testkit/registry/registry.h"

namespace berth::test {

using nlohmann::json;
using fs::registry::base64_encode;

namespace {

std::string b64url(std::string_view s) {
  std::string out = base64_encode(s, true);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

TokenServer::TokenServer(std::string dir, int port, std::string user, std::string password)
    : dir_(std::move(dir)), port_(port), user_(std::move(user)), password_(std::move(password)) {
  cert_ = dir_ + "/token.crt";
  key_ = dir_ + "/token.key";
}

TokenServer::~TokenServer() {
  stop();
  if (pkey_) EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_));
}

std::string TokenServer::realm() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }

bool TokenServer::start(std::string* err) {
  std::string out;
  if (run_for_status({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                   "-keyout", key_, "-out", cert_, "-days", "2", "-subj", "/CN=berth token signer"},
                  &out) != 0) {
    *err = "openssl: " + out;
    return false;
  }
  std::string pem = read_file(cert_).value(), key_pem = read_file(key_).value();
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  cert_der_b64_ = base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
  OPENSSL_free(der);
  X509_free(x);
  b = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  pkey_ = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!pkey_ || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0) {
    *err = "token server set-up failed";
    return false;
  }
  thread_ = std::thread([this] { serve(); });
  return true;
}

void TokenServer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void TokenServer::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t got = ::read(c, buf, sizeof buf);
      if (got <= 0) break;
      req.append(buf, static_cast<size_t>(got));
    }
    std::string resp = answer(req);
    (void)!::write(c, resp.data(), resp.size());
    ::close(c);
  }
}

std::string TokenServer::sign(const std::string& input) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(pkey_));
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string der(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  // JWS wants r || s, 32 bytes each, not DER.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string TokenServer::answer(const std::string& req) {
  std::string line = req.substr(0, req.find("\r\n"));
  std::vector<std::string> parts = split(line, ' ');
  std::string target = parts.size() > 1 ? parts[1] : "";
  if (!user_.empty()) {
    std::string lower = req;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t at = lower.find("authorization: basic ");
    size_t end = at == std::string::npos ? at : req.find("\r\n", at);
    bool good = at != std::string::npos && req.substr(at + 21, end - at - 21) == base64_encode(user_ + ":" + password_);
    if (!good) {
      refused_++;
      return response(401, "Unauthorized", R"({"details":"incorrect username or password"})");
    }
  }
  json access = json::array();
  size_t q = target.find('?');
  for (const std::string& kv : split(q == std::string::npos ? "" : target.substr(q + 1), '&')) {
    if (kv.rfind("scope=", 0) != 0) continue;
    std::vector<std::string> s = split(url_decode(kv.substr(6)), ':');  // repository:name:actions
    if (s.size() == 3) access.push_back({{"type", s[0]}, {"name", s[1]}, {"actions", split(s[2], ',')}});
  }
  int64_t now = std::time(nullptr);
  json header{{"typ", "JWT"}, {"alg", "ES256"}, {"x5c", {cert_der_b64_}}};
  json claims{{"iss", kIssuer}, {"sub", user_.empty() ? "anonymous" : user_}, {"aud", kService},
              {"exp", now + 60}, {"nbf", now - 10}, {"iat", now}, {"jti", random_id().substr(0, 16)},
              {"access", access}};
  std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
  std::string token = input + "." + b64url(sign(input));
  issued_++;
  return response(200, "OK", json{{"token", token}, {"expires_in", 60}}.dump());
}

}  // namespace berth::test
