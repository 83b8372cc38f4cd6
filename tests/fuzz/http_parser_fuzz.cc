// libFuzzer target for the API's HTTP request parser (ipc/proto/request.h).
// The input's first two bytes choose how the rest is cut into reads; the
// rest is fed once whole and once in those pieces, as a connection does
// (keep the unconsumed tail, append the next read). Both runs must give
// the same requests (method, target, path, query, headers, flags), the
// same body bytes and the same outcome (complete, waiting, or failed with
// the same code); a difference, a crash or a sanitizer report is a find.
//
// Run by tools/fuzz (clang-16, ASan); see tests/fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ipc/proto/request.h"

namespace {

using berth::ipc::ParseEvent;
using berth::ipc::Request;
using berth::ipc::RequestParser;

std::string describe(const Request& r) {
  std::string s = r.method + " " + r.target + " " + r.path + " v=" + r.api_version;
  for (const auto& [k, v] : r.query) s += " q:" + k + "=" + v;
  for (const auto& [k, v] : r.headers) s += " h:" + k + "=" + v;
  s += " ka=" + std::to_string(r.keep_alive) + " up=" + std::to_string(r.upgrade) +
       " ch=" + std::to_string(r.chunked) + " cl=" + std::to_string(r.content_length);
  return s;
}

// What one run saw: a line per request, its body, and how it ended.
struct Outcome {
  std::vector<std::string> requests;
  std::vector<std::string> bodies;
  std::string end;
  bool operator==(const Outcome&) const = default;
};

// Feeds `pieces` in order like a connection's read buffer.
Outcome run(const std::vector<std::string_view>& pieces) {
  RequestParser p(8 * 1024, 1 << 20);
  Outcome out;
  std::string buf;
  bool upgraded = false;
  for (std::string_view piece : pieces) {
    buf.append(piece);
    while (!upgraded) {
      auto step = p.feed(buf);
      if (!step) {
        out.end = "error " + std::to_string(int(step.error().code()));
        return out;
      }
      if (step->consumed > buf.size()) std::abort();
      if (step->event == ParseEvent::kHead) {
        out.requests.push_back(describe(p.head()));
        out.bodies.emplace_back();
      } else if (step->event == ParseEvent::kBody) {
        if (out.bodies.empty()) std::abort();   // a body before any head
        out.bodies.back().append(step->body);
      } else if (step->event == ParseEvent::kComplete) {
        out.requests.back() += " complete";
        if (p.head().upgrade) upgraded = true;   // the rest is a raw stream
      }
      buf.erase(0, step->consumed);
      if (step->event == ParseEvent::kNeedMore) break;
    }
  }
  out.end = upgraded ? "upgraded" : p.in_message() ? "partial" : "idle";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  unsigned seed = data[0] | (unsigned(data[1]) << 8);
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  Outcome whole = run({in});
  std::vector<std::string_view> pieces;
  for (size_t off = 0; off < in.size();) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 97;
    n = std::min(n, in.size() - off);
    pieces.push_back(in.substr(off, n));
    off += n;
  }
  Outcome cut = run(pieces);
  if (!(whole == cut)) {
    std::fprintf(stderr, "whole: %zu requests, end %s\ncut:   %zu requests, end %s\n", whole.requests.size(),
                 whole.end.c_str(), cut.requests.size(), cut.end.c_str());
    for (size_t i = 0; i < std::max(whole.requests.size(), cut.requests.size()); i++)
      std::fprintf(stderr, "  %s\n  %s\n", i < whole.requests.size() ? whole.requests[i].c_str() : "-",
                   i < cut.requests.size() ? cut.requests[i].c_str() : "-");
    std::abort();
  }
  return 0;
}
