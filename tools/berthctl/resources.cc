// Resource flags → Docker API Resources fields; see resources.h.
#include "tools/berthctl/resources.h"

#include "tools/berthctl/units.h"

namespace berth::ctl {
namespace {

bool given(const CLI::Option* flag) { return flag != nullptr && flag->count() > 0; }

// Parses a flag's value with `parse`, wrapping its error like pflag does.
Result<int64_t> flag_value(Result<int64_t> parsed, std::string_view value, std::string_view flag) {
  if (!parsed) return Error::invalid("invalid argument \"{}\" for \"{}\" flag: {}", value, flag, parsed.error().message());
  return *parsed;
}

}  // namespace

void add_resource_flags(CLI::App* sub, ResourceFlags& f) {
  auto last = [](CLI::Option* o) { return o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); };
  f.memory_flag = last(sub->add_option("-m,--memory", f.memory, "Memory limit (e.g. 512k, 32m, 1g)"));
  f.memory_swap_flag = last(sub->add_option(
      "--memory-swap", f.memory_swap, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"));
  f.memory_reservation_flag = last(sub->add_option("--memory-reservation", f.memory_reservation, "Memory soft limit"));
  f.cpus_flag = last(sub->add_option("--cpus", f.cpus, "Number of CPUs (e.g. 0.5)"));
  f.cpu_shares_flag = last(sub->add_option("-c,--cpu-shares", f.cpu_shares, "CPU shares (relative weight)"));
  f.cpu_period_flag = last(sub->add_option("--cpu-period", f.cpu_period, "Limit CPU CFS (Completely Fair Scheduler) period"));
  f.cpu_quota_flag = last(sub->add_option("--cpu-quota", f.cpu_quota, "Limit CPU CFS (Completely Fair Scheduler) quota"));
  f.cpuset_cpus_flag = last(sub->add_option("--cpuset-cpus", f.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)"));
  f.cpuset_mems_flag = last(sub->add_option("--cpuset-mems", f.cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)"));
  f.pids_limit_flag = last(sub->add_option("--pids-limit", f.pids_limit, "Tune container pids limit (set -1 for unlimited)"));
  f.blkio_weight_flag = last(sub->add_option(
      "--blkio-weight", f.blkio_weight, "Block IO (relative weight), between 10 and 1000, or 0 to disable"));
}

Result<nlohmann::json> resource_fields(const ResourceFlags& f) {
  nlohmann::json r = nlohmann::json::object();
  if (given(f.memory_flag)) r["Memory"] = BERTH_TRY(flag_value(ram_in_bytes(f.memory), f.memory, "-m, --memory"));
  if (given(f.memory_swap_flag))
    r["MemorySwap"] = BERTH_TRY(flag_value(mem_swap_bytes(f.memory_swap), f.memory_swap, "--memory-swap"));
  if (given(f.memory_reservation_flag))
    r["MemoryReservation"] = BERTH_TRY(
        flag_value(ram_in_bytes(f.memory_reservation), f.memory_reservation, "--memory-reservation"));
  if (given(f.cpus_flag)) r["NanoCpus"] = BERTH_TRY(flag_value(nano_cpus(f.cpus), f.cpus, "--cpus"));
  if (given(f.cpu_shares_flag)) r["CpuShares"] = f.cpu_shares;
  if (given(f.cpu_period_flag)) r["CpuPeriod"] = f.cpu_period;
  if (given(f.cpu_quota_flag)) r["CpuQuota"] = f.cpu_quota;
  if (given(f.cpuset_cpus_flag)) r["CpusetCpus"] = f.cpuset_cpus;
  if (given(f.cpuset_mems_flag)) r["CpusetMems"] = f.cpuset_mems;
  if (given(f.pids_limit_flag)) r["PidsLimit"] = f.pids_limit;
  if (given(f.blkio_weight_flag)) r["BlkioWeight"] = f.blkio_weight;
  return r;
}

}  // namespace berth::ctl
