#include "fs/registry/session.h"

#include <dirent.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::fs::registry {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Requested Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) out.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

Error unauthorized(std::string msg) { return Error(Code::kInvalidArgument, std::move(msg), kUnauthorizedErrno); }

}  // namespace

bool is_unauthorized(const Error& e) { return e.sys_errno() == kUnauthorizedErrno && e.code() == Code::kInvalidArgument; }

std::string registry_error_text(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    const json& e = j["errors"][0];
    std::string code = e.value("code", std::string());
    std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    for (char& c : code) c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!code.empty()) return msg.empty() ? code : code + ": " + msg;
  }
  if (j.is_object() && j.contains("details") && j["details"].is_string()) return j["details"].get<std::string>();
  if (r.status == 401) return "unauthorized: authentication required";  // e.g. a HEAD: no body
  std::string why = reason(r.status);
  return why.empty() ? fmt::format("unexpected status {}", r.status) : fmt::format("{} {}", r.status, why);
}

TlsConfig load_tls_config(const std::string& certs_dir, const Endpoint& e) {
  TlsConfig t;
  t.verify = e.tls_verify;
  if (certs_dir.empty()) return t;
  std::string dir = certs_dir + "/" + e.host;
  for (const std::string& name : list_dir(dir)) {
    if (ends_with(name, ".crt")) {
      if (auto pem = read_file(dir + "/" + name, 1 << 20)) t.ca_pem += *pem + "\n";
    } else if (ends_with(name, ".cert") && t.client_cert_path.empty()) {
      std::string key = dir + "/" + name.substr(0, name.size() - 5) + ".key";
      if (path_exists(key)) {
        t.client_cert_path = dir + "/" + name;
        t.client_key_path = key;
      }
    }
  }
  return t;
}

Session::Session(std::vector<Endpoint> endpoints, Credentials creds, const RegistryOptions& opts,
                 const std::atomic<bool>* cancel, const std::atomic<bool>* abort)
    : endpoints_(std::move(endpoints)),
      creds_(std::move(creds)),
      opts_(opts),
      cancel_(cancel),
      abort_(abort),
      http_(HttpOptions{opts.connect_timeout_ms, opts.low_speed_bytes, opts.low_speed_time_s, cancel, abort}) {}

HttpOptions Session::http_options() const {
  return HttpOptions{opts_.connect_timeout_ms, opts_.low_speed_bytes, opts_.low_speed_time_s, cancel_, abort_};
}

std::string Session::url(std::string_view path) const { return endpoint_.url + std::string(path); }

bool Session::backoff(int attempt) const {
  auto until = Clock::now() + std::chrono::milliseconds(opts_.retry_base_ms << std::min(attempt, 6));
  while (Clock::now() < until) {
    if (http_options().cancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !http_options().cancelled();
}

void Session::take_challenge(const HttpResponse& r) {
  for (const Challenge& c : parse_challenges(r.header_values("www-authenticate"))) {
    if (c.scheme == "bearer" || (c.scheme == "basic" && scheme_ != "bearer")) {
      scheme_ = c.scheme;
      challenge_ = c.params;
    }
  }
}

void Session::note_unauthorized(const HttpResponse& r) {
  std::lock_guard lock(mu_);
  tokens_.clear();
  take_challenge(r);
}

Result<void> Session::connect(size_t from) {
  std::lock_guard lock(mu_);
  std::optional<Error> first;
  for (size_t i = from; i < endpoints_.size(); i++) {
    Endpoint ep = endpoints_[i];
    for (int tries = 0; tries < 2; tries++) {
      tls_ = load_tls_config(opts_.certs_dir, ep);
      HttpRequest req;
      req.url = ep.url + "/v2/";
      req.tls = tls_;
      auto r = http_.perform(req);
      if (!r && r.error().code() == Code::kCancelled) return std::move(r.error());
      if (!r && r.error().sys_errno() == EPROTO && ep.allow_http_fallback && starts_with(ep.url, "https://")) {
        ep.url = "http://" + ep.url.substr(8);  // the server speaks plain HTTP
        continue;
      }
      if (!r) {
        if (!first) first = std::move(r.error());
        break;
      }
      if (r->status != 200 && r->status != 401) {
        if (!first) first = Error::make(Code::kSystem, "Get \"{}\": {}", req.url, registry_error_text(*r));
        break;
      }
      endpoint_ = ep;
      chosen_ = i;
      tokens_.clear();
      scheme_.clear();
      challenge_.clear();
      if (r->status == 401) take_challenge(*r);
      return ok();
    }
  }
  if (first) return std::move(*first);
  return Error::invalid("no registry endpoint to contact");
}

std::string Session::basic_header() const {
  return "Authorization: Basic " + base64_encode(creds_.username + ":" + creds_.password);
}

Result<Session::Token> Session::fetch_token(const std::vector<std::string>& scopes) {
  std::string realm = challenge_.count("realm") ? challenge_["realm"] : std::string();
  if (realm.empty()) return Error::invalid("registry {} asked for a bearer token without a realm", endpoint_.host);
  std::string query = "service=" + url_escape(challenge_["service"]);
  for (const std::string& s : scopes) query += "&scope=" + url_escape(s);
  HttpRequest req;
  req.tls = tls_;
  req.follow_redirects = true;
  if (!creds_.identity_token.empty()) {  // OAuth2 refresh token (docker login's identity token)
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = query + "&grant_type=refresh_token&client_id=berth&refresh_token=" + url_escape(creds_.identity_token);
  } else {
    req.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + query;
    if (!creds_.username.empty()) {
      req.headers.push_back(basic_header());
      req.url += "&offline_token=true&client_id=berth";
    }
  }
  HttpResponse r = BERTH_TRY(http_.perform(req));
  if (r.status == 401 || r.status == 403)
    return unauthorized(fmt::format("{} \"{}\": unauthorized: {}", go_method(req.method), realm,
                                    creds_.empty() ? "authentication required" : "incorrect username or password"));
  if (r.status != 200)
    return Error::make(Code::kSystem, "{} \"{}\": {}", go_method(req.method), realm, registry_error_text(r));
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Error::invalid("token from {}: not a JSON object", realm);
  Token t;
  t.value = j.value("token", std::string());
  if (t.value.empty()) t.value = j.value("access_token", std::string());
  if (t.value.empty()) return Error::invalid("token from {}: no token in the answer", realm);
  if (j.contains("refresh_token") && j["refresh_token"].is_string()) refresh_token_ = j["refresh_token"];
  int64_t expires_s = j.contains("expires_in") && j["expires_in"].is_number_integer() ? j["expires_in"].get<int64_t>() : 60;
  t.expires = Clock::now() + std::chrono::seconds(std::max<int64_t>(expires_s - 5, 1));
  return t;
}

Result<std::string> Session::authorization_locked(const std::vector<std::string>& scopes) {
  if (!creds_.registry_token.empty()) return "Authorization: Bearer " + creds_.registry_token;
  if (scheme_ == "basic") return creds_.username.empty() ? std::string() : basic_header();
  if (scheme_ != "bearer") return std::string();
  std::string key;
  for (const std::string& s : scopes) key += s + " ";
  auto it = tokens_.find(key);
  if (it == tokens_.end() || it->second.expires <= Clock::now()) {
    Token t = BERTH_TRY(fetch_token(scopes));
    it = tokens_.insert_or_assign(key, std::move(t)).first;
  }
  return "Authorization: Bearer " + it->second.value;
}

Result<std::string> Session::authorization(const std::vector<std::string>& scopes) {
  std::lock_guard lock(mu_);
  return authorization_locked(scopes);
}

Result<HttpResponse> Session::send(HttpRequest req, const std::vector<std::string>& scopes) {
  std::lock_guard lock(mu_);
  req.tls = tls_;
  bool reauthed = false;
  for (int attempt = 0;; attempt++) {
    HttpRequest r = req;
    std::string auth = BERTH_TRY(authorization_locked(scopes));
    if (!auth.empty()) r.headers.push_back(auth);
    auto resp = http_.perform(r);
    bool more = attempt < opts_.retries;
    if (!resp) {
      if (more && is_transient_transport(resp.error()) && backoff(attempt)) continue;
      return std::move(resp.error());
    }
    if (resp->status == 401 && !reauthed && scheme_ != "basic") {
      reauthed = true;
      tokens_.clear();
      take_challenge(*resp);
      attempt--;
      continue;
    }
    if ((resp->status >= 500 || resp->status == 429) && more && backoff(attempt)) continue;
    return resp;
  }
}

Result<std::string> Session::login(std::string* identity_token) {
  BERTH_TRY_VOID(connect());
  std::lock_guard lock(mu_);
  if (scheme_.empty()) return std::string("Login Succeeded");
  if (scheme_ == "basic" && creds_.username.empty())
    return unauthorized(fmt::format("Get \"{}/v2/\": no basic auth credentials", endpoint_.url));
  std::string auth = BERTH_TRY(authorization_locked({}));
  HttpRequest req;
  req.url = endpoint_.url + "/v2/";
  req.tls = tls_;
  if (!auth.empty()) req.headers.push_back(auth);
  HttpResponse r = BERTH_TRY(http_.perform(req));
  if (r.status == 401)
    return unauthorized(fmt::format("login attempt to {} failed with status: 401 Unauthorized", req.url));
  if (r.status != 200)
    return Error::make(Code::kSystem, "login attempt to {} failed with status: {}", req.url, registry_error_text(r));
  if (identity_token) *identity_token = refresh_token_;
  return std::string("Login Succeeded");
}

Result<LoginResult> check_auth(const std::string& registry, const Credentials& creds, const RegistryOptions& opts) {
  std::string name = normalize_registry(!registry.empty() ? registry : creds.server_address);
  Session s(registry_endpoints(name, opts), creds, opts, nullptr);
  LoginResult out;
  out.status = BERTH_TRY(s.login(&out.identity_token));
  return out;
}

}  // namespace berth::fs::registry
