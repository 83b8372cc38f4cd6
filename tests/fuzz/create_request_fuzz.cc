// libFuzzer target for the body of POST /containers/create: the request
// parser (ipc/server/create_request.h, with the security options of
// core/engine/security_options.h and the mounts of mount_request.h). Any
// body must be accepted or refused without a crash or sanitizer report; an
// accepted one must survive the state file (core/engine/state_store.h):
// encoded, decoded and encoded again, it gives the same text.
//
// Run by tools/fuzz (clang-16, ASan); see tests/fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/engine/state_store.h"
#include "ipc/server/create_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto spec = berth::ipc::parse_create_request(body, "");
  if (!spec) return 0;
  berth::engine::Container c;
  c.id = std::string(64, 'a');
  c.name = "fuzz";
  c.spec = std::move(*spec);
  std::string first = berth::engine::encode_container(c);
  auto back = berth::engine::decode_container(first);
  if (!back) {
    std::fprintf(stderr, "state does not decode: %s\n%s\n", back.error().message().c_str(), first.c_str());
    std::abort();
  }
  std::string second = berth::engine::encode_container(**back);
  if (first != second) {
    std::fprintf(stderr, "state changes across a reload:\n%s\n%s\n", first.c_str(), second.c_str());
    std::abort();
  }
  return 0;
}
