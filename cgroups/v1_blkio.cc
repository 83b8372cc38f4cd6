// v1 blkio controller: proportional weight and throttling statistics.
// Kernel: Documentation/admin-guide/cgroup-v1/blkio-controller.rst.
//
// blkio.weight belongs to the CFQ scheduler, gone since Linux 5.0; with BFQ
// the knob is blkio.bfq.weight (same 1..1000 scale), so set() writes
// whichever this kernel has, like runc.
#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

// "8:0 Read 4096" lines; the trailing "Total N" summary names no device.
std::vector<BlkioEntry> parse_blkio(std::string_view text) {
  std::vector<BlkioEntry> out;
  for (const std::string& line : split(text, '\n')) {
    std::vector<std::string> f = words(line);
    if (f.size() != 3) continue;
    size_t colon = f[0].find(':');
    if (colon == std::string::npos) continue;
    auto major = parse_u64(std::string_view(f[0]).substr(0, colon));
    auto minor = parse_u64(std::string_view(f[0]).substr(colon + 1));
    auto value = parse_u64(f[2]);
    if (!major || !minor || !value) continue;
    out.push_back({static_cast<uint32_t>(*major), static_cast<uint32_t>(*minor), f[1], *value});
  }
  return out;
}

const char* weight_file(const std::string& dir) {
  if (has_control(dir, "blkio.weight")) return "blkio.weight";
  if (has_control(dir, "blkio.bfq.weight")) return "blkio.bfq.weight";
  return nullptr;
}

}  // namespace

Result<void> V1Cgroup::check_blkio(const Resources& r) const {
  if (r.blkio_weight.value_or(0) == 0) return ok();
  const std::string* dir = dir_of("blkio");
  if (!dir || !weight_file(*dir)) {
    return Error::make(Code::kNotSupported,
                       "set blkio weight on cgroup {}: no blkio.weight or blkio.bfq.weight (blkio controller "
                       "not mounted, or the disk scheduler has no weights)",
                       path_);
  }
  return ok();
}

Result<void> V1Cgroup::set_blkio(const Resources& r) {
  const std::string* dir = dir_of("blkio");
  if (r.blkio_weight.value_or(0) == 0 || !dir || !weight_file(*dir)) return ok();  // check_blkio ran
  return write_control(*dir, weight_file(*dir), std::to_string(*r.blkio_weight));
}

Result<void> V1Cgroup::blkio_stats(Stats& s) const {
  const std::string* dir = dir_of("blkio");
  if (!dir) return ok();
  std::optional<std::string> bytes = BERTH_TRY(read_control_if_exists(*dir, "blkio.throttle.io_service_bytes"));
  std::optional<std::string> ios = BERTH_TRY(read_control_if_exists(*dir, "blkio.throttle.io_serviced"));
  if (bytes) s.io_service_bytes = parse_blkio(*bytes);
  if (ios) s.io_serviced = parse_blkio(*ios);
  return ok();
}

}  // namespace berth::cgroups
