// v2 io controller: weight and io.stat. Kernel:
// Documentation/admin-guide/cgroup-v2.rst, "IO".
//
// Docker's BlkioWeight (10..1000) goes to io.bfq.weight as is when the BFQ
// scheduler provides it (same 1..1000 scale), else to io.weight (1..10000,
// the io.cost/blk-iocost knob) mapped linearly, as runc does.
#include <string>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

// "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6" per device.
void parse_io_stat(std::string_view text, Stats& s) {
  for (const std::string& line : split(text, '\n')) {
    std::vector<std::string> f = words(line);
    if (f.empty()) continue;
    size_t colon = f[0].find(':');
    if (colon == std::string::npos) continue;
    auto major = parse_u64(std::string_view(f[0]).substr(0, colon));
    auto minor = parse_u64(std::string_view(f[0]).substr(colon + 1));
    if (!major || !minor) continue;
    uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0;
    for (size_t i = 1; i < f.size(); ++i) {
      size_t eq = f[i].find('=');
      if (eq == std::string::npos) continue;
      std::string_view key = std::string_view(f[i]).substr(0, eq);
      uint64_t v = parse_u64(std::string_view(f[i]).substr(eq + 1)).value_or(0);
      if (key == "rbytes") rbytes = v;
      if (key == "wbytes") wbytes = v;
      if (key == "rios") rios = v;
      if (key == "wios") wios = v;
    }
    uint32_t ma = static_cast<uint32_t>(*major), mi = static_cast<uint32_t>(*minor);
    s.io_service_bytes.push_back({ma, mi, "Read", rbytes});
    s.io_service_bytes.push_back({ma, mi, "Write", wbytes});
    s.io_serviced.push_back({ma, mi, "Read", rios});
    s.io_serviced.push_back({ma, mi, "Write", wios});
  }
}

}  // namespace

Result<void> V2Cgroup::check_io(const Resources& r) const {
  if (r.blkio_weight.value_or(0) == 0) return ok();
  if (has_control(dir_, "io.bfq.weight") || has_control(dir_, "io.weight")) return ok();
  return missing("blkio weight", "io.weight");
}

Result<void> V2Cgroup::set_io(const Resources& r) {
  int64_t w = r.blkio_weight.value_or(0);
  if (w == 0) return ok();
  if (has_control(dir_, "io.bfq.weight")) return write_control(dir_, "io.bfq.weight", std::to_string(w));
  if (!has_control(dir_, "io.weight")) return ok();  // check_io ran
  return write_control(dir_, "io.weight", std::to_string(1 + (w - 10) * 9999 / 990));
}

Result<void> V2Cgroup::io_stats(Stats& s) const {
  std::optional<std::string> st = BERTH_TRY(read_control_if_exists(dir_, "io.stat"));
  if (st) parse_io_stat(*st, s);
  return ok();
}

}  // namespace berth::cgroups
