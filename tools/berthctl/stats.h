// What `stats` shows, computed from the daemon's ContainerStatsResponse the
// way the docker CLI does (cli/command/container/stats_helpers.go and
// formatter_stats.go), and a splitter for the stream of JSON objects that
// GET /containers/{id}/stats?stream=1 sends. Pure functions and a plain
// value class; any thread, one thread per JsonObjectSplitter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::ctl {

struct StatsEntry {
  std::string container;  // as the user named it (or the short ID)
  std::string id;         // from the daemon, full
  std::string name;       // from the daemon, with its leading '/'
  double cpu_percent = 0;
  double memory = 0, memory_limit = 0, memory_percent = 0;  // memory: usage without inactive file pages
  double net_rx = 0, net_tx = 0, block_read = 0, block_write = 0;
  uint64_t pids = 0;
  bool invalid = false;  // no data or an error: the row shows "--"
};

// One ContainerStatsResponse → an entry:
//   CPU %  = Δcpu_stats.cpu_usage.total_usage / Δsystem_cpu_usage × online_cpus
//            (or len(percpu_usage)) × 100, when both deltas are > 0, else 0;
//   memory = usage − stats.total_inactive_file (v1) or − stats.inactive_file
//            (v2) when that is smaller than usage; MEM % = memory / limit × 100;
//   NET I/O = Σ networks.*.rx_bytes / tx_bytes;
//   BLOCK I/O = Σ blkio_stats.io_service_bytes_recursive by op 'r'/'w' (any case);
//   PIDS = pids_stats.current.
StatsEntry stats_entry(const nlohmann::json& v, std::string container);

// The default table of `docker stats`.
std::vector<std::string> stats_header();
// ["ab12cd34ef56", "web", "0.50%", "1.5MiB / 32MiB", "4.69%", "0B / 0B", "0B / 0B", "1"];
// `trunc` shortens the ID to 12 characters.
std::vector<std::string> stats_row(const StatsEntry& e, bool trunc);

// Cuts a byte stream into top-level JSON values ({…} or […]), whether they
// are separated by newlines (json.Encoder) or not. Anything else at the top
// level comes out up to the next newline, so the caller's parse fails.
class JsonObjectSplitter {
 public:
  void feed(std::string_view data) { buf_.append(data); }
  // The next complete value, without surrounding whitespace.
  bool next(std::string* value);
  // What is left (an incomplete value), for the end of the stream.
  std::string_view rest() const { return buf_; }

 private:
  std::string buf_;
  size_t pos_ = 0;  // buf_[0, pos_) has been scanned in the state below
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

}  // namespace berth::ctl
