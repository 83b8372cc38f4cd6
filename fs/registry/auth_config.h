// Registry credentials and the two header formats that carry them:
//
//  * X-Registry-Auth, sent by the docker CLI with pull and push: base64url
//    (padding optional; the standard alphabet is accepted too) of a JSON
//    AuthConfig {"username", "password", "serveraddress", "identitytoken",
//    "registrytoken"} (Docker's api/types/registry.AuthConfig; also "auth",
//    base64 of "user:password", which the CLI's config files use).
//  * WWW-Authenticate challenges from a registry (RFC 7235):
//    `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//    scope="repository:library/busybox:pull"` or `Basic realm="basic-realm"`.
//
// Pure functions on values; any thread. Credentials are secrets: never log
// them (their fields are not part of any error message made here).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::fs::registry {

struct Credentials {
  std::string username, password;
  std::string server_address;   // as the client gave it ("localhost:5000", "https://index.docker.io/v1/")
  std::string identity_token;   // an OAuth refresh token from an earlier login
  std::string registry_token;   // a bearer token to use as it is
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
};

// Decodes an X-Registry-Auth header value. An empty value (or "{}") is
// anonymous. kInvalidArgument for bad base64 or JSON, as Docker's 400
// "invalid X-Registry-Auth header".
Result<Credentials> decode_registry_auth(std::string_view header);
// The inverse (base64url of the JSON), for clients and tests.
std::string encode_registry_auth(const Credentials& c);
// POST /auth's body: the same JSON, not base64-encoded.
Result<Credentials> parse_auth_config_json(std::string_view json);

// base64 with either alphabet, padding optional; nullopt-style error on a
// bad character.
Result<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in, bool url_alphabet = false);

struct Challenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercased: realm, service, scope
};

// Parses one or more WWW-Authenticate header values (each may hold several
// challenges, comma-separated). Unparsable parts are skipped.
std::vector<Challenge> parse_challenges(const std::vector<std::string>& header_values);

}  // namespace berth::fs::registry
