// The resource flags shared by run, create and update (docker's -m,
// --memory-swap, --memory-reservation, --cpus, -c/--cpu-shares,
// --cpu-period, --cpu-quota, --cpuset-cpus, --cpuset-mems, --pids-limit,
// --blkio-weight) and their translation into the Docker API's Resources
// fields (HostConfig of POST /containers/create, the body of POST
// /containers/{id}/update). Single-threaded, like the rest of berthctl.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::ctl {

// Values as typed; the Option pointers tell which flags were given. Owned by
// the subcommand's options object, which must outlive parsing.
struct ResourceFlags {
  std::string memory, memory_swap, memory_reservation, cpus;
  std::string cpuset_cpus, cpuset_mems;
  int64_t cpu_shares = 0, cpu_period = 0, cpu_quota = 0, pids_limit = 0;
  uint16_t blkio_weight = 0;

  CLI::Option* memory_flag = nullptr;
  CLI::Option* memory_swap_flag = nullptr;
  CLI::Option* memory_reservation_flag = nullptr;
  CLI::Option* cpus_flag = nullptr;
  CLI::Option* cpuset_cpus_flag = nullptr;
  CLI::Option* cpuset_mems_flag = nullptr;
  CLI::Option* cpu_shares_flag = nullptr;
  CLI::Option* cpu_period_flag = nullptr;
  CLI::Option* cpu_quota_flag = nullptr;
  CLI::Option* pids_limit_flag = nullptr;
  CLI::Option* blkio_weight_flag = nullptr;
};

// Registers the flags on `sub`; a repeated flag keeps its last value, as
// pflag does.
void add_resource_flags(CLI::App* sub, ResourceFlags& f);

// The Resources fields of the flags given, e.g. {"Memory":33554432,
// "NanoCpus":500000000}; empty when none was given. A bad size or CPU count
// fails with the docker CLI's message:
//   invalid argument "32q" for "-m, --memory" flag: invalid suffix: 'q'
Result<nlohmann::json> resource_fields(const ResourceFlags& f);

}  // namespace berth::ctl
