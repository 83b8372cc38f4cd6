// libFuzzer target for the bodies of POST /containers/{id}/exec and POST
// /containers/{id}/update (ipc/server/exec_update_request.h): the input's
// first byte picks the parser. Any body must be accepted or refused
// without a crash or sanitizer report; accepted update limits must pass or
// fail cgroups::validate() the same way twice (it is pure).
//
// Run by tools/fuzz (clang-16, ASan); see tests/fuzz/README.md.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ipc/server/exec_update_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    auto cfg = berth::ipc::parse_exec_config(body);
    if (cfg && cfg->cmd.empty()) std::abort();   // "No exec command specified" must have refused it
    return 0;
  }
  auto res = berth::ipc::parse_update_request(body);
  if (res) {
    bool a = bool(berth::cgroups::validate(res->resources, 2)), b = bool(berth::cgroups::validate(res->resources, 2));
    if (a != b) std::abort();
  }
  return 0;
}
