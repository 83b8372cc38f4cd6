// Resource checks with Docker's wording (moby daemon/daemon_unix.go,
// verifyPlatformContainerResources), so clients and scripts written against
// Docker see the same errors. An unset field reads as Docker's zero value.
#include <charconv>
#include <string>
#include <string_view>

#include "cgroups/cgroups.h"
#include "core/base/strings.h"

namespace berth::cgroups {

bool Resources::empty() const {
  return !memory && !memory_swap && !memory_reservation && !nano_cpus && !cpu_shares && !cpu_period &&
         !cpu_quota && !cpuset_cpus && !cpuset_mems && !pids_limit && !blkio_weight;
}

bool Resources::sets_cpuset() const {
  return !cpuset_cpus.value_or("").empty() || !cpuset_mems.value_or("").empty();
}

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's linuxMinMemory

std::optional<int64_t> parse_index(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Parses a cpuset list ("0-2,4") the way Docker's parsers.ParseUintList
// does and returns the highest index in it (-1 for ""), or nullopt when the
// list is malformed.
std::optional<int64_t> max_in_list(std::string_view list) {
  int64_t top = -1;
  if (list.empty()) return top;
  for (const std::string& part : split(list, ',')) {
    std::string_view p = part;
    size_t dash = p.find('-');
    auto lo = parse_index(p.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_index(p.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    top = std::max(top, *hi);
  }
  return top;
}

Result<void> validate_memory(const Resources& r) {
  const int64_t memory = r.memory.value_or(0);
  const int64_t swap = r.memory_swap.value_or(0);
  const int64_t reservation = r.memory_reservation.value_or(0);
  if (memory != 0 && memory < kMinMemory) return Error::invalid("Minimum memory limit allowed is 6MB");
  if (memory > 0 && swap > 0 && swap < memory) {
    return Error::invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (memory == 0 && swap > 0) {
    return Error::invalid("You should always set the Memory limit when using Memoryswap limit, see usage");
  }
  if (reservation > 0 && reservation < kMinMemory) return Error::invalid("Minimum memory reservation allowed is 6MB");
  if (memory > 0 && reservation > 0 && memory < reservation) {
    return Error::invalid("Minimum memory limit can not be less than memory reservation limit, see usage");
  }
  return ok();
}

Result<void> validate_cpu(const Resources& r, int online_cpus) {
  const int64_t nano = r.nano_cpus.value_or(0);
  const int64_t period = r.cpu_period.value_or(0);
  const int64_t quota = r.cpu_quota.value_or(0);
  if (nano > 0 && period > 0) return Error::invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano > 0 && quota > 0) return Error::invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (nano < 0 || nano > int64_t{online_cpus} * 1000000000) {
    return Error::invalid("Range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available", online_cpus,
                          online_cpus);
  }
  if (period != 0 && (period < 1000 || period > 1000000)) {
    return Error::invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  }
  if (quota > 0 && quota < 1000) return Error::invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  return ok();
}

Result<void> validate_cpuset(const Resources& r, int online_cpus) {
  const std::string cpus = r.cpuset_cpus.value_or("");
  const std::string mems = r.cpuset_mems.value_or("");
  auto top_cpu = max_in_list(cpus);
  if (!top_cpu) return Error::invalid("Invalid value {} for cpuset cpus: invalid format: {}", cpus, cpus);
  if (*top_cpu >= online_cpus) {
    std::string avail = online_cpus <= 1 ? std::string("0") : fmt::format("0-{}", online_cpus - 1);
    return Error::invalid("Requested CPUs are not available - requested {}, available: {}", cpus, avail);
  }
  if (!max_in_list(mems)) return Error::invalid("Invalid value {} for cpuset mems: invalid format: {}", mems, mems);
  return ok();
}

}  // namespace

Result<void> validate(const Resources& r, int online_cpus) {
  BERTH_TRY_VOID(validate_memory(r));
  BERTH_TRY_VOID(validate_cpu(r, online_cpus));
  BERTH_TRY_VOID(validate_cpuset(r, online_cpus));
  const int weight = r.blkio_weight.value_or(0);
  if (weight > 0 && (weight < 10 || weight > 1000)) return Error::invalid("Range of blkio weight is from 10 to 1000");
  return ok();
}

}  // namespace berth::cgroups
