// A blocking Docker Engine API client over a Unix socket, used by berthctl
// and by the integration and e2e test suites. Thin on purpose: it moves
// bytes and frames HTTP; it knows nothing of containers.
//
// One Client is one connection, reused (keep-alive) for sequential requests
// and re-dialled when the daemon closed it. Like the docker CLI, callers that
// need concurrent exchanges (run: attach + wait + start) open one Client per
// exchange. Status codes ≥ 400 are not errors at this layer: request()
// returns the Response and the caller decides (see error_message and
// daemon_error). Errors are transport failures, malformed HTTP, or a refused
// upgrade.
//
// Paths are given unversioned ("/containers/json?all=1"); with an API
// version set (negotiate() or set_api_version) they are sent as
// "/v1.50/containers/json?all=1", except /_ping and paths that already carry
// a version.
//
// Thread safety: a Client belongs to one thread at a time. Every call blocks.
// Ownership: next_chunk() continues the response of the last start_stream();
// any other call on the Client abandons that stream (and its connection).
// hijack() hands the socket to the caller and leaves the Client unconnected.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "ipc/proto/http_types.h"
#include "ipc/proto/response.h"

namespace berth::ipc {

// The newest API version this client speaks (what the docker CLI 28 uses).
inline constexpr std::string_view kClientApiVersion = "1.50";
// What to assume when the daemon's ping carries no Api-Version header.
inline constexpr std::string_view kFallbackApiVersion = "1.24";
inline constexpr std::string_view kDefaultHost = "unix:///run/berth/berth.sock";

struct Response {
  int status = 0;
  Headers headers;   // names lowercased
  std::string body;  // empty for start_stream() (read it with next_chunk())
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

class Client {
 public:
  // `host` is "unix:///run/berth/berth.sock" or a plain socket path. Fails
  // with "cannot connect to berthd at <host>: <strerror>".
  static Result<Client> connect(const std::string& host);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  const std::string& host() const { return host_; }
  const std::string& api_version() const { return api_version_; }
  void set_api_version(std::string version) { api_version_ = std::move(version); }
  // HEAD /_ping (GET /_ping if that is refused), then uses
  // min(kClientApiVersion, the Api-Version response header), or
  // kFallbackApiVersion when the header is absent: the docker CLI's rule.
  Result<void> negotiate();

  // One whole exchange; the body is read completely.
  Result<Response> request(std::string_view method, std::string_view path, std::string_view body = {},
                           std::string_view content_type = "application/json");

  // Returns status and headers as soon as they arrive (wait, logs, events).
  // Then next_chunk() yields body bytes (de-chunked, Content-Length delimited,
  // or up to EOF) and nullopt at the end of the body.
  // `extra` headers go with the request (X-Registry-Auth for pull and push).
  Result<Response> start_stream(std::string_view method, std::string_view path, std::string_view body = {},
                                const Headers& extra = {});
  Result<std::optional<std::string>> next_chunk();

  // Sends the request body read from `fd` (until EOF) with
  // Transfer-Encoding: chunked (import, load, cp). `fd` stays the caller's.
  // If the daemon answers early and closes, that answer is returned.
  Result<Response> upload(std::string_view method, std::string_view path, int fd,
                          std::string_view content_type);

  // Attach / exec start: sends Connection: Upgrade, Upgrade: tcp and expects
  // "101"; returns the raw socket and any stream bytes read past the head.
  // Another status fails: ≥ 400 as daemon_error(), else
  // "unable to upgrade to tcp, received <status>".
  struct Hijacked {
    unique_fd fd;
    std::string leftover;
  };
  Result<Hijacked> hijack(std::string_view method, std::string_view path, std::string_view body = {});

 private:
  Client(std::string host, std::string socket_path);

  Result<void> ensure_connected();
  void disconnect();
  std::string versioned(std::string_view path) const;
  std::string request_head(std::string_view method, std::string_view path, std::string_view framing) const;
  Result<Response> exchange(std::string_view method, std::string_view path, std::string_view framing,
                            std::string_view body);
  Result<Response> read_head(bool head_request);
  Result<void> send_all(std::string_view data);
  Result<size_t> read_more();
  std::string_view unread() const { return std::string_view(rbuf_).substr(rpos_); }
  Result<std::string> drain_body();
  Result<void> send_file_chunks(int fd);

  std::string host_;         // as given, for messages
  std::string socket_path_;  // for re-dialling
  std::string api_version_;
  unique_fd fd_;
  bool reused_ = false;      // fd_ has completed an exchange before
  bool streaming_ = false;   // a response body is pending on fd_
  std::string rbuf_;         // bytes read from fd_; rbuf_[rpos_..] not yet parsed
  size_t rpos_ = 0;
  ResponseParser parser_;
};

// The daemon's {"message": …} text, or the raw body.
std::string error_message(const Response& r);
// "Error response from daemon: <message>", the docker CLI's wording, with a
// code from the status: 404 kNotFound, 409 kConflict, 400 kInvalidArgument,
// 304 kNotModified, else kSystem.
Error daemon_error(const Response& r);

}  // namespace berth::ipc
