#include "ipc/proto/path_stat.h"

#include <nlohmann/json.hpp>

namespace berth::ipc {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  size_t i = kAlphabet.find(c);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  size_t rest = in.size() - i;
  if (rest) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return Error::invalid("invalid base64: bad length");
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    int s = sextet(c);
    if (s < 0) return Error::invalid("invalid base64: unexpected character");
    v = v << 6 | uint32_t(s);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

std::string encode_path_stat(const PathStat& s) {
  nlohmann::ordered_json j = {{"name", s.name},       {"size", s.size},
                              {"mode", s.mode},       {"mtime", s.mtime},
                              {"linkTarget", s.link_target}};
  return base64_encode(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

Result<PathStat> decode_path_stat(std::string_view header_value) {
  std::string json = BERTH_TRY_CTX(base64_decode(header_value), "decode {} header", kPathStatHeader);
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::invalid("decode {} header: not a JSON object", kPathStatHeader);
  PathStat s;
  try {
    s.name = j.value("name", "");
    s.size = j.value("size", int64_t(0));
    s.mode = j.value("mode", uint32_t(0));
    s.mtime = j.value("mtime", "");
    s.link_target = j.value("linkTarget", "");
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid("decode {} header: {}", kPathStatHeader, e.what());
  }
  return s;
}

}  // namespace berth::ipc
