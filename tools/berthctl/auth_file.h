// berthctl's registry credentials: one JSON file, mode 0600 in a 0700
// directory, in the docker CLI's config.json shape so the same entries
// read the same way:
//
//   {"auths": {"localhost:5000": {"auth": "<base64 user:password>"},
//              "https://index.docker.io/v1/": {"auth": "...", "identitytoken": "..."}}}
//
// Where: $BERTH_CONFIG/auth.json, else $XDG_CONFIG_HOME/berth/auth.json,
// else ~/.config/berth/auth.json. Written to a temp file and renamed.
// Credentials are never printed.
//
// Thread: the main thread (blocking file I/O).
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::ctl {

// Docker Hub's key, as the docker CLI writes it.
inline constexpr std::string_view kHubAuthKey = "https://index.docker.io/v1/";

struct StoredAuth {
  std::string username, password, identity_token;
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// The file's key for a registry as typed (`login` argument, or the domain of
// an image name): scheme and path dropped; Docker Hub's names (and "") are
// kHubAuthKey.
std::string auth_key(std::string_view server);
// The registry part of an image name: "localhost:5000" for
// "localhost:5000/x:t", "docker.io" for "busybox" (a first component is a
// registry when it has a '.' or ':' or is "localhost").
std::string registry_of(std::string_view image);

std::string auth_file_path();
// The entry for `key` ({} when the file or the entry is missing);
// kInvalidArgument when the file is not valid JSON.
Result<StoredAuth> load_auth(const std::string& path, const std::string& key);
// Adds or replaces (`auth` set) or removes (`auth` empty) the entry;
// *existed says whether there was one.
Result<void> store_auth(const std::string& path, const std::string& key, const StoredAuth& auth, bool* existed);

// The X-Registry-Auth header value for `auth` at `server_address`: base64url
// of {"username","password","serveraddress"[,"identitytoken"]}, as the
// docker CLI sends it.
std::string registry_auth_header(const StoredAuth& auth, const std::string& server_address);

}  // namespace berth::ctl
