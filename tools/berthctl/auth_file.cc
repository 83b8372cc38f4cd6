#include "tools/berthctl/auth_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "ipc/proto/path_stat.h"

namespace berth::ctl {

namespace {

using json = nlohmann::json;

Result<json> read_auth_file(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) {
    if (text.error().sys_errno() == ENOENT) return json::object();
    return std::move(text.error());
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return Error::invalid("{}: not a JSON object", path);
  return j;
}

}  // namespace

std::string auth_key(std::string_view server) {
  if (server.starts_with("https://")) server.remove_prefix(8);
  else if (server.starts_with("http://")) server.remove_prefix(7);
  server = server.substr(0, server.find('/'));
  if (server.empty() || server == "docker.io" || server == "index.docker.io" || server == "registry-1.docker.io")
    return std::string(kHubAuthKey);
  return std::string(server);
}

std::string registry_of(std::string_view image) {
  size_t slash = image.find('/');
  if (slash == std::string_view::npos) return "docker.io";
  std::string_view first = image.substr(0, slash);
  if (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos && first != "localhost")
    return "docker.io";
  return std::string(first);
}

std::string auth_file_path() {
  const char* dir = std::getenv("BERTH_CONFIG");
  if (dir && *dir) return std::string(dir) + "/auth.json";
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/berth/auth.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.config/berth/auth.json";
}

Result<StoredAuth> load_auth(const std::string& path, const std::string& key) {
  json j = BERTH_TRY(read_auth_file(path));
  StoredAuth out;
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return out;
  auto entry = auths->find(key);
  if (entry == auths->end() || !entry->is_object()) return out;
  if (auto a = entry->find("auth"); a != entry->end() && a->is_string()) {
    std::string pair = BERTH_TRY_CTX(ipc::base64_decode(a->get<std::string>()), "{}: credentials of {}", path, key);
    size_t colon = pair.find(':');
    if (colon == std::string::npos) return Error::invalid("{}: credentials of {} are not user:password", path, key);
    out.username = pair.substr(0, colon);
    out.password = pair.substr(colon + 1);
  }
  if (auto t = entry->find("identitytoken"); t != entry->end() && t->is_string()) out.identity_token = *t;
  return out;
}

Result<void> store_auth(const std::string& path, const std::string& key, const StoredAuth& auth, bool* existed) {
  json j = BERTH_TRY(read_auth_file(path));
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  *existed = j["auths"].contains(key);
  if (auth.empty()) {
    j["auths"].erase(key);
  } else {
    json entry = {{"auth", ipc::base64_encode(auth.username + ":" + auth.password)}};
    if (!auth.identity_token.empty()) entry["identitytoken"] = auth.identity_token;
    j["auths"][key] = std::move(entry);
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY_VOID(make_dirs(path.substr(0, slash), 0700));
  return write_file_atomic(path, j.dump(1, '\t') + "\n", 0600);
}

std::string registry_auth_header(const StoredAuth& auth, const std::string& server_address) {
  json j = {{"username", auth.username}, {"password", auth.password}, {"serveraddress", server_address}};
  if (!auth.identity_token.empty()) j["identitytoken"] = auth.identity_token;
  std::string b = ipc::base64_encode(j.dump());
  for (char& c : b) {  // the URL alphabet, as the docker CLI encodes it
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return b;
}

}  // namespace berth::ctl
