#include "fs/registry/remote.h"

#include <arpa/inet.h>

#include "core/base/strings.h"

namespace berth::fs::registry {

namespace {

// "host:port" -> "host"; "[::1]:5000" -> "::1".
std::string host_only(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    return std::string(hp.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  size_t colon = hp.find(':');
  if (colon != std::string_view::npos && hp.find(':', colon + 1) == std::string_view::npos) hp = hp.substr(0, colon);
  return std::string(hp);
}

bool ipv4_in_cidr(std::string_view ip, std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return false;
  auto bits = parse_int(cidr.substr(slash + 1));
  in_addr a, net;
  if (!bits || *bits < 0 || *bits > 32) return false;
  if (::inet_pton(AF_INET, std::string(ip).c_str(), &a) != 1) return false;
  if (::inet_pton(AF_INET, std::string(cidr.substr(0, slash)).c_str(), &net) != 1) return false;
  uint32_t mask = *bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - *bits));
  return (a.s_addr & mask) == (net.s_addr & mask);
}

Endpoint make_endpoint(std::string_view url, const RegistryOptions& opts, bool mirror) {
  Endpoint e;
  std::string_view rest = url;
  bool http = starts_with(url, "http://");
  if (starts_with(rest, "https://")) rest.remove_prefix(8);
  else if (http) rest.remove_prefix(7);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  e.host = std::string(rest.substr(0, rest.find('/')));
  e.url = std::string(http ? "http://" : "https://") + std::string(rest);
  e.mirror = mirror;
  bool insecure = is_insecure(e.host, opts);
  e.tls_verify = !insecure;
  e.allow_http_fallback = !http && (insecure || is_loopback_host(e.host));
  return e;
}

}  // namespace

bool is_loopback_host(std::string_view hp) {
  std::string h = host_only(hp);
  if (h == "localhost" || h == "::1") return true;
  return ipv4_in_cidr(h, "127.0.0.0/8");
}

bool is_insecure(std::string_view hp, const RegistryOptions& opts) {
  std::string h = host_only(hp);
  for (const std::string& i : opts.insecure) {
    if (i == hp || i == h) return true;
    if (i.find('/') != std::string::npos && ipv4_in_cidr(h, i)) return true;
  }
  return false;
}

std::string normalize_registry(std::string_view s) {
  if (starts_with(s, "https://")) s.remove_prefix(8);
  else if (starts_with(s, "http://")) s.remove_prefix(7);
  s = s.substr(0, s.find('/'));
  if (s.empty() || s == "index.docker.io" || s == "registry-1.docker.io" || s == "docker.io") return "docker.io";
  return std::string(s);
}

std::vector<Endpoint> registry_endpoints(const std::string& registry, const RegistryOptions& opts) {
  std::vector<Endpoint> out;
  if (registry == kDefaultDomain) {
    for (const std::string& m : opts.mirrors) out.push_back(make_endpoint(m, opts, true));
    out.push_back(make_endpoint("https://" + std::string(kDockerHubApiHost), opts, false));
  } else {
    out.push_back(make_endpoint("https://" + registry, opts, false));
  }
  return out;
}

Result<Remote> resolve_remote(const Reference& ref, const RegistryOptions& opts) {
  Remote r;
  r.ref = ref;
  r.registry = ref.domain;
  r.repository = ref.path;
  r.tag = ref.tag;
  r.digest = ref.digest;
  r.endpoints = registry_endpoints(r.registry, opts);
  return r;
}

Result<Remote> resolve_remote(std::string_view reference, const RegistryOptions& opts) {
  Reference ref = BERTH_TRY(parse_reference(reference));
  return resolve_remote(ref, opts);
}

}  // namespace berth::fs::registry
