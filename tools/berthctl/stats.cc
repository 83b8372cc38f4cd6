// `stats` arithmetic and formatting, after the docker CLI; see stats.h.
#include "tools/berthctl/stats.h"

#include <algorithm>

#include "tools/berthctl/units.h"

namespace berth::ctl {
namespace {

using json = nlohmann::json;

const json& field(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// Go decodes a missing or mistyped number as 0.
uint64_t u64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) return uint64_t(std::max<int64_t>(0, v.get<int64_t>()));
  if (v.is_number_float()) return v.get<double>() > 0 ? uint64_t(v.get<double>()) : 0;
  return 0;
}

double cpu_percent(const json& v) {
  const json& cpu = field(v, "cpu_stats");
  const json& pre = field(v, "precpu_stats");
  double cpu_delta = double(u64(field(field(cpu, "cpu_usage"), "total_usage"))) -
                     double(u64(field(field(pre, "cpu_usage"), "total_usage")));
  double system_delta = double(u64(field(cpu, "system_cpu_usage"))) - double(u64(field(pre, "system_cpu_usage")));
  double online = double(u64(field(cpu, "online_cpus")));
  if (online == 0) {
    const json& percpu = field(field(cpu, "cpu_usage"), "percpu_usage");
    online = percpu.is_array() ? double(percpu.size()) : 0;
  }
  return system_delta > 0 && cpu_delta > 0 ? cpu_delta / system_delta * online * 100.0 : 0;
}

// Usage without the page cache that could be reclaimed (cadvisor's working set).
double memory_used(const json& mem) {
  uint64_t usage = u64(field(mem, "usage"));
  const json& stats = field(mem, "stats");
  const json& v1 = field(stats, "total_inactive_file");
  if (!v1.is_null() && u64(v1) < usage) return double(usage - u64(v1));
  if (uint64_t v2 = u64(field(stats, "inactive_file")); v2 < usage) return double(usage - v2);
  return double(usage);
}

std::string truncate_id(std::string_view id) {
  if (size_t colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
  return std::string(id.substr(0, 12));
}

}  // namespace

StatsEntry stats_entry(const json& v, std::string container) {
  StatsEntry e;
  e.container = std::move(container);
  const json& id = field(v, "id");
  const json& name = field(v, "name");
  e.id = id.is_string() ? id.get<std::string>() : "";
  e.name = name.is_string() ? name.get<std::string>() : "";
  e.cpu_percent = cpu_percent(v);
  const json& mem = field(v, "memory_stats");
  e.memory = memory_used(mem);
  e.memory_limit = double(u64(field(mem, "limit")));
  e.memory_percent = e.memory_limit != 0 ? e.memory / e.memory_limit * 100.0 : 0;
  const json& nets = field(v, "networks");
  if (nets.is_object())
    for (const json& n : nets) {
      e.net_rx += double(u64(field(n, "rx_bytes")));
      e.net_tx += double(u64(field(n, "tx_bytes")));
    }
  const json& io = field(field(v, "blkio_stats"), "io_service_bytes_recursive");
  if (io.is_array())
    for (const json& entry : io) {
      const json& op = field(entry, "op");
      if (!op.is_string() || op.get_ref<const std::string&>().empty()) continue;
      char c = op.get_ref<const std::string&>()[0];
      if (c == 'r' || c == 'R') e.block_read += double(u64(field(entry, "value")));
      if (c == 'w' || c == 'W') e.block_write += double(u64(field(entry, "value")));
    }
  e.pids = u64(field(field(v, "pids_stats"), "current"));
  return e;
}

std::vector<std::string> stats_header() {
  return {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"};
}

std::vector<std::string> stats_row(const StatsEntry& e, bool trunc) {
  // Before any data the daemon's ID is unknown: show what the user named.
  std::string id = e.id.empty() ? e.container : (trunc ? truncate_id(e.id) : e.id);
  std::string name = e.name.size() > 1 ? e.name.substr(1) : "--";
  if (e.invalid) return {id, name, "--", "-- / --", "--", "--", "--", "--"};
  return {id,
          name,
          format_percent(e.cpu_percent),
          bytes_size(e.memory) + " / " + bytes_size(e.memory_limit),
          format_percent(e.memory_percent),
          human_size(e.net_rx) + " / " + human_size(e.net_tx),
          human_size(e.block_read) + " / " + human_size(e.block_write),
          std::to_string(e.pids)};
}

bool JsonObjectSplitter::next(std::string* value) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  for (; pos_ < buf_.size(); pos_++) {
    char c = buf_[pos_];
    if (in_string_) {
      if (escaped_)
        escaped_ = false;
      else if (c == '\\')
        escaped_ = true;
      else if (c == '"')
        in_string_ = false;
      continue;
    }
    if (depth_ == 0 && is_space(c)) continue;
    if (depth_ == 0 && c != '{' && c != '[') {
      // Not a JSON object or array: hand out the line as it is.
      size_t begin = buf_.find_first_not_of(" \t\r\n");
      size_t nl = buf_.find('\n', pos_);
      if (nl == std::string::npos) return false;  // wait for the rest of the line
      *value = buf_.substr(begin, nl - begin);
      buf_.erase(0, nl + 1);
      pos_ = 0;
      return true;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      depth_++;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      size_t begin = buf_.find_first_not_of(" \t\r\n");
      *value = buf_.substr(begin, pos_ + 1 - begin);
      buf_.erase(0, pos_ + 1);
      pos_ = 0;
      return true;
    }
  }
  return false;
}

}  // namespace berth::ctl
