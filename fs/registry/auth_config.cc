#include "fs/registry/auth_config.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/base/strings.h"

namespace berth::fs::registry {

namespace {

using nlohmann::json;

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::string json_str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void skip_space(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t')) (*i)++;
}

std::string read_token(std::string_view s, size_t* i) {
  size_t start = *i;
  while (*i < s.size() && is_token_char(s[*i])) (*i)++;
  return std::string(s.substr(start, *i - start));
}

// A quoted-string (backslash escapes) or a token.
std::string read_value(std::string_view s, size_t* i) {
  if (*i >= s.size() || s[*i] != '"') return read_token(s, i);
  std::string out;
  for ((*i)++; *i < s.size() && s[*i] != '"'; (*i)++) {
    if (s[*i] == '\\' && *i + 1 < s.size()) (*i)++;
    out += s[*i];
  }
  if (*i < s.size()) (*i)++;  // closing quote
  return out;
}

// One header value: challenge ("," challenge)*, challenge = scheme [param
// ("," param)*]. A token followed by "=" is a param of the current challenge;
// otherwise it starts a new one.
void parse_one(std::string_view s, std::vector<Challenge>* out) {
  size_t i = 0;
  Challenge* cur = nullptr;
  while (i < s.size()) {
    skip_space(s, &i);
    if (i < s.size() && s[i] == ',') {
      i++;
      continue;
    }
    std::string tok = read_token(s, &i);
    if (tok.empty()) {  // garbage: skip to the next comma
      while (i < s.size() && s[i] != ',') i++;
      continue;
    }
    skip_space(s, &i);
    if (i < s.size() && s[i] == '=' && cur) {
      i++;
      skip_space(s, &i);
      cur->params[ascii_lower(tok)] = read_value(s, &i);
      continue;
    }
    out->push_back(Challenge{ascii_lower(tok), {}});
    cur = &out->back();
  }
}

Credentials from_json(const json& j) {
  Credentials c;
  c.username = json_str(j, "username");
  c.password = json_str(j, "password");
  c.server_address = json_str(j, "serveraddress");
  c.identity_token = json_str(j, "identitytoken");
  c.registry_token = json_str(j, "registrytoken");
  if (c.username.empty() && c.password.empty()) {
    if (auto both = base64_decode(json_str(j, "auth")); both && !both->empty()) {
      size_t colon = both->find(':');
      c.username = both->substr(0, colon);
      if (colon != std::string::npos) c.password = both->substr(colon + 1);
    }
  }
  return c;
}

}  // namespace

Result<std::string> base64_decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = b64_value(c);
    if (v < 0) return Error::invalid("invalid base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string base64_encode(std::string_view in, bool url_alphabet) {
  const char* alphabet = url_alphabet ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                                      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<Credentials> parse_auth_config_json(std::string_view text) {
  if (text.empty()) return Credentials{};
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !(j.is_object() || j.is_null())) return Error::invalid("invalid auth configuration: not a JSON object");
  if (j.is_null()) return Credentials{};
  return from_json(j);
}

Result<Credentials> decode_registry_auth(std::string_view header) {
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  if (header.empty()) return Credentials{};
  auto raw = base64_decode(header);
  if (!raw) return Error::invalid("invalid X-Registry-Auth header: {}", raw.error().message());
  auto c = parse_auth_config_json(*raw);
  if (!c) return Error::invalid("invalid X-Registry-Auth header: {}", c.error().message());
  return c;
}

std::string encode_registry_auth(const Credentials& c) {
  json j = json::object();
  if (!c.username.empty()) j["username"] = c.username;
  if (!c.password.empty()) j["password"] = c.password;
  if (!c.server_address.empty()) j["serveraddress"] = c.server_address;
  if (!c.identity_token.empty()) j["identitytoken"] = c.identity_token;
  if (!c.registry_token.empty()) j["registrytoken"] = c.registry_token;
  return base64_encode(j.dump(), true);
}

std::vector<Challenge> parse_challenges(const std::vector<std::string>& header_values) {
  std::vector<Challenge> out;
  for (const std::string& v : header_values) parse_one(v, &out);
  return out;
}

}  // namespace berth::fs::registry
