// A small HTTP client on libcurl for talking to registries.
//
// HttpClient::perform() runs one request to completion (curl easy
// interface; the handle, and so its connection cache, is reused across
// calls). TransferSet drives many requests at once from one thread (curl
// multi interface), running each one's `done` callback as it finishes.
//
// Threads: every call here BLOCKS (network I/O, DNS, TLS handshakes) and
// must run on a job-pool or worker thread, never the reactor thread. An
// HttpClient or TransferSet belongs to one thread at a time. libcurl's
// global init happens once, thread-safely, on first use.
//
// Bounds: a connect attempt gives up after connect_timeout_ms; a transfer
// slower than low_speed_bytes/s for low_speed_time_s is abandoned
// (ETIMEDOUT). Cancel: `cancel`, when set, is polled from curl's progress
// callback (and between transfers): a set flag aborts every transfer in
// progress with Code::kCancelled.
//
// Errors: a transport failure is an Error whose message reads like Docker's
// ("Get \"https://r/v2/\": Failed to connect to r port 443: Connection
// refused") and whose sys_errno classifies it: ECONNREFUSED, ETIMEDOUT,
// ECONNRESET (reset, closed early, nothing received), EPROTO (the server
// does not speak TLS), EKEYREJECTED (certificate verification failed),
// EHOSTUNREACH (name not resolved), ECANCELED. An HTTP error status is not
// an Error here: the response is returned and the caller decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::fs::registry {

struct TlsConfig {
  bool verify = true;
  std::string ca_pem;            // extra trusted CAs (PEM), added to the system's
  std::string client_cert_path;  // PEM client certificate and key, or ""
  std::string client_key_path;
};

struct HttpOptions {
  long connect_timeout_ms = 15000;
  long low_speed_bytes = 1024;
  long low_speed_time_s = 30;
  const std::atomic<bool>* cancel = nullptr;
  const std::atomic<bool>* abort = nullptr;  // a second flag with the same effect (a failed pull's own stop)
  bool cancelled() const { return (cancel && cancel->load()) || (abort && abort->load()); }
};

struct HttpRequest {
  std::string method = "GET";        // GET HEAD POST PUT PATCH DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // request body when upload_fd < 0
  int upload_fd = -1;                // else `upload_length` bytes read from it at `upload_offset`
  int64_t upload_offset = 0, upload_length = 0;
  bool follow_redirects = false;
  TlsConfig tls;
  size_t max_body_bytes = 4 << 20;   // response bodies kept in memory are cut here
  // When set, the body of a 2xx response is streamed here instead of kept;
  // an error it returns aborts the transfer and is the request's result.
  std::function<Result<void>(std::string_view)> sink;
  // Called once before the first body byte of a 2xx response goes to
  // `sink`, with the response status (200 or 206 for a Range request).
  std::function<Result<void>(long status)> on_body_start;
  // (downloaded, download total, uploaded, upload total), 0 when unknown.
  std::function<void(int64_t, int64_t, int64_t, int64_t)> progress;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, final response only
  std::string body;
  std::string url;  // the effective URL (after redirects)
  // The first value of header `name` (lowercase), or "".
  std::string header(std::string_view name) const;
  std::vector<std::string> header_values(std::string_view name) const;
};

// "GET" -> "Get", as Go's net/http names a method in its errors.
std::string go_method(std::string_view method);
// True for failures worth retrying: resets, timeouts, refused connections.
bool is_transient_transport(const Error& e);

class HttpClient {
 public:
  explicit HttpClient(HttpOptions opts);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> perform(const HttpRequest& req);
  const HttpOptions& options() const { return opts_; }

 private:
  HttpOptions opts_;
  void* easy_ = nullptr;  // CURL*
};

class TransferSet {
 public:
  using Done = std::function<void(Result<HttpResponse>)>;
  explicit TransferSet(HttpOptions opts);
  ~TransferSet();
  TransferSet(const TransferSet&) = delete;
  TransferSet& operator=(const TransferSet&) = delete;

  // Queues `req`; `done` runs on run()'s thread when it ends (also when it
  // fails or is cancelled). May be called from a `done`.
  void add(HttpRequest req, Done done);
  // Runs queued transfers, at most `parallel` at once in the order they
  // were added, until none is left. kCancelled when the cancel flag was set
  // (each unfinished transfer's `done` got kCancelled first).
  Result<void> run(size_t parallel);

  struct Call;  // opaque

 private:
  HttpOptions opts_;
  void* multi_ = nullptr;  // CURLM*
  std::vector<std::unique_ptr<Call>> queued_, active_;
};

}  // namespace berth::fs::registry
