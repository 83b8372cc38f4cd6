// Parses the body of POST /containers/create into an engine::CreateSpec,
// validating types with Docker-style messages. Pure; any thread.
#pragma once

#include <string>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/json_fields.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

// Checks every member against the API field table first (api_fields.h):
// a refused one that is set is a 400; warned ones are appended to `warnings`
// for the answer.
Result<engine::CreateSpec> parse_create_request(const std::string& body, const std::string& name,
                                                std::vector<std::string>* warnings = nullptr);

using engine::bool_field;
using engine::str_field;
using engine::str_slice;

// The resource fields of a HostConfig (create) or an UpdateConfig (update):
// Memory, MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpuPeriod,
// CpuQuota, CpusetCpus, CpusetMems, PidsLimit, BlkioWeight. Zero, null and
// absent all mean "not set", as in Docker (PidsLimit 0 or -1: unlimited;
// MemorySwap -1: unlimited swap). Type errors are 400s.
Result<cgroups::Resources> parse_resources(const nlohmann::json& obj);

// RestartPolicy {Name, MaximumRetryCount} of a HostConfig or an
// UpdateConfig, types checked (the values by engine::parse_restart_policy);
// nullopt when absent or null.
Result<std::optional<std::pair<std::string, int64_t>>> restart_policy_field(const nlohmann::json& obj);

// ConsoleSize: [rows, cols] (API 1.42+); null or absent is {0, 0}.
struct ConsoleSize {
  unsigned short rows = 0, cols = 0;
};
Result<ConsoleSize> console_size_field(const nlohmann::json& obj);

}  // namespace berth::ipc
