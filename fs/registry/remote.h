// Where a reference lives on the wire: the registry's API endpoints, the
// repository path and the tag or digest (OCI distribution spec, Docker's
// registry service config).
//
//   busybox                 -> registry docker.io, endpoints
//                              https://registry-1.docker.io (after any
//                              --registry-mirror), repository library/busybox
//   localhost:5000/x:t      -> registry localhost:5000, repository x
//   host/a/b@sha256:...     -> by digest
//
// Transport per endpoint: TLS verified (system CAs plus
// <certs_dir>/<host:port>/*.crt, Docker's certs.d convention; a client
// certificate from client.cert/client.key there) unless the registry is
// listed as insecure (TLS unverified, plain HTTP allowed, as
// --insecure-registry). Loopback registries (localhost, 127.0.0.0/8, ::1)
// may also fall back to plain HTTP when they do not speak TLS, as Docker
// allows; unlike Docker, a loopback registry that does speak TLS is still
// verified (a failed verification is an error, never a downgrade).
//
// Pure functions on values (resolve_remote reads nothing); any thread.
#pragma once

#include <string>
#include <vector>

#include "core/base/result.h"
#include "fs/reference.h"

namespace berth::fs::registry {

inline constexpr std::string_view kDefaultCertsDir = "/etc/berth/certs.d";
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";

struct RegistryOptions {
  // --registry-mirror: base URLs tried before Docker Hub for docker.io
  // references ("https://mirror.example.com", "http://127.0.0.1:5001").
  std::vector<std::string> mirrors;
  // --insecure-registry: "host:port", "host", or a CIDR ("10.0.0.0/8").
  std::vector<std::string> insecure;
  std::string certs_dir = std::string(kDefaultCertsDir);
  // Bounded waits. Connect: per attempt. Low speed: a transfer slower than
  // low_speed_bytes per second for low_speed_time_s is abandoned (retried
  // like a reset).
  long connect_timeout_ms = 15000;
  long low_speed_bytes = 1024;
  long low_speed_time_s = 30;
  // Transient failures (5xx, 429, resets, timeouts) are retried this many
  // times, waiting retry_base_ms, then twice as long each time.
  int retries = 5;
  long retry_base_ms = 500;
};

struct Endpoint {
  std::string url;           // "https://registry-1.docker.io" (no trailing slash)
  std::string host;          // "registry-1.docker.io:443"-style key for certs.d: "host[:port]"
  bool tls_verify = true;
  bool allow_http_fallback = false;  // try http:// when the server does not speak TLS
  bool mirror = false;
};

struct Remote {
  Reference ref;             // as parsed (domain docker.io, path library/busybox)
  std::string registry;      // ref.domain: "docker.io", "localhost:5000"
  std::string repository;    // "library/busybox"
  std::string tag, digest;   // one or both
  std::vector<Endpoint> endpoints;  // in the order to try
};

// kInvalidArgument for a bad reference (Docker's messages).
Result<Remote> resolve_remote(std::string_view reference, const RegistryOptions& opts);
Result<Remote> resolve_remote(const Reference& ref, const RegistryOptions& opts);
// The endpoints of a registry ("docker.io", "localhost:5000"), for login.
std::vector<Endpoint> registry_endpoints(const std::string& registry, const RegistryOptions& opts);
// "docker.io" for "", "https://index.docker.io/v1/", "index.docker.io";
// scheme and path stripped otherwise ("http://localhost:5000/" -> "localhost:5000").
std::string normalize_registry(std::string_view server_address);
bool is_loopback_host(std::string_view host_port);
bool is_insecure(std::string_view host_port, const RegistryOptions& opts);

}  // namespace berth::fs::registry
