// Session: one conversation with one registry on behalf of one pull, push
// or login: which endpoint and scheme answer (GET /v2/, with the plain-HTTP
// fallback and mirror order of fs/registry/remote.h), how it wants
// clients to authenticate (its WWW-Authenticate challenge), and the tokens
// it handed out.
//
// Auth: anonymous when /v2/ answers 200; HTTP basic with the caller's
// username and password for a Basic challenge; for a Bearer challenge a
// token from its realm (GET realm?service=&scope=..., with basic auth
// when there are credentials; POST grant_type=refresh_token when there is
// an identity token), cached per scope set until its expires_in (default 60
// s) runs out. A registry token in the credentials is used as it is. A 401
// answer to a request drops the cached token, reads the new challenge and
// tries once more.
//
// Retries: transient failures (HTTP 5xx and 429, resets, timeouts, refused
// connections after the first contact) are retried opts.retries times
// with exponential backoff, checking the cancel flag while waiting.
//
// Threads: blocking network I/O; job-pool or worker threads only. A
// Session may be shared by threads (a mutex serialises its requests and its
// token cache). Credentials are never logged or put in errors.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "fs/registry/auth_config.h"
#include "fs/registry/http.h"
#include "fs/registry/remote.h"

namespace berth::fs::registry {

// Errors that mean "the registry refused these credentials" carry this
// sys_errno (Code::kInvalidArgument), so the API layer can answer 401.
inline constexpr int kUnauthorizedErrno = EACCES;
bool is_unauthorized(const Error& e);

// Docker's wording for a registry error answer: the body's first
// {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]} as
// "manifest unknown: manifest unknown", else "<status> <reason>".
std::string registry_error_text(const HttpResponse& r);

class Session {
 public:
  // `cancel` and `abort` (either may be null) stop requests and waits.
  Session(std::vector<Endpoint> endpoints, Credentials creds, const RegistryOptions& opts,
          const std::atomic<bool>* cancel, const std::atomic<bool>* abort = nullptr);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // GET /v2/ on each endpoint in turn, from endpoint `first` on, until one
  // answers; records its challenge. Unreachable: the first endpoint's
  // error.
  Result<void> connect(size_t first = 0);
  // Whether an endpoint after the chosen one is left to fall back to (a
  // mirror that failed: then connect(next_endpoint())).
  bool has_next_endpoint() const { return chosen_ + 1 < endpoints_.size(); }
  size_t next_endpoint() const { return chosen_ + 1; }
  // "https://host:port" of the chosen endpoint, + `path` ("/v2/...").
  std::string url(std::string_view path) const;
  const Endpoint& endpoint() const { return endpoint_; }
  TlsConfig tls() const { return tls_; }
  HttpOptions http_options() const;

  // Sends `req` (its url a full URL from url()) authorised for `scopes`
  // ("repository:x:pull"), with the 401 and retry rules above.
  Result<HttpResponse> send(HttpRequest req, const std::vector<std::string>& scopes);
  // The "Authorization: ..." header for `scopes`, or "" when none is
  // needed (for transfers driven by a TransferSet).
  Result<std::string> authorization(const std::vector<std::string>& scopes);
  // After a 401 seen elsewhere: forget tokens and take the new challenge.
  void note_unauthorized(const HttpResponse& r);
  // Waits before retry `attempt` (0-based); false when cancelled.
  bool backoff(int attempt) const;
  int retries() const { return opts_.retries; }

  // docker login: checks the credentials against /v2/ and answers
  // "Login Succeeded" (and an identity token when the registry gave one).
  Result<std::string> login(std::string* identity_token);

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  Result<std::string> authorization_locked(const std::vector<std::string>& scopes);
  Result<Token> fetch_token(const std::vector<std::string>& scopes);
  void take_challenge(const HttpResponse& r);
  std::string basic_header() const;

  std::vector<Endpoint> endpoints_;
  Endpoint endpoint_;
  size_t chosen_ = 0;
  Credentials creds_;
  RegistryOptions opts_;
  const std::atomic<bool>* cancel_;
  const std::atomic<bool>* abort_;
  TlsConfig tls_;
  std::mutex mu_;
  HttpClient http_;
  std::string scheme_;                 // "bearer", "basic" or "" (anonymous)
  std::map<std::string, std::string> challenge_;
  std::map<std::string, Token> tokens_;  // by space-joined scopes
  std::string refresh_token_;           // from a token answer (login)
};

// Reads <certs_dir>/<host>/: every *.crt as a CA, client.cert/client.key
// (or any *.cert with its *.key) as the client certificate.
TlsConfig load_tls_config(const std::string& certs_dir, const Endpoint& e);

// docker login (POST /auth): "Login Succeeded", or an error; a refused
// login is is_unauthorized() with Docker's wording.
struct LoginResult {
  std::string status;          // "Login Succeeded"
  std::string identity_token;  // "" unless the registry issued one
};
Result<LoginResult> check_auth(const std::string& registry, const Credentials& creds, const RegistryOptions& opts);

}  // namespace berth::fs::registry
