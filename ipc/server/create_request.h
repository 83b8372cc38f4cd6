// Parses the body of POST /containers/create into an engine::CreateSpec,
// validating types with Docker-style messages. Pure; any thread.
#pragma once

#include <string>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

Result<engine::CreateSpec> parse_create_request(const std::string& body, const std::string& name);

// Docker's StrSlice: null or absent (empty, *set false), a string, or an
// array of strings.
Result<std::vector<std::string>> str_slice(const nlohmann::json& j, const char* field, bool* set);
// A string field ("" when null or absent) and a boolean one (`dflt` then);
// other types are 400s naming the field.
Result<std::string> str_field(const nlohmann::json& j, const char* field);
Result<bool> bool_field(const nlohmann::json& j, const char* field, bool dflt);

// The resource fields of a HostConfig (create) or an UpdateConfig (update):
// Memory, MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpuPeriod,
// CpuQuota, CpusetCpus, CpusetMems, PidsLimit, BlkioWeight. Zero, null and
// absent all mean "not set", as in Docker (PidsLimit 0 or -1: unlimited;
// MemorySwap -1: unlimited swap). Type errors are 400s.
Result<cgroups::Resources> parse_resources(const nlohmann::json& obj);

// ConsoleSize: [rows, cols] (API 1.42+); null or absent is {0, 0}.
struct ConsoleSize {
  unsigned short rows = 0, cols = 0;
};
Result<ConsoleSize> console_size_field(const nlohmann::json& obj);

}  // namespace berth::ipc
