// Control-file helpers shared by the v1 and v2 drivers; internal to
// cgroups/ (core/engine uses cgroups.h only).
//
// A cgroup is a directory of small "control files": reading one yields a
// value, writing one applies a setting, and the kernel checks the whole value
// in one write(2), so each write is a single syscall and a short write is an
// error. Files are opened without O_CREAT: on cgroupfs a missing file means a
// missing controller or an old kernel, and the unit-test fixture tree must
// contain every file a driver touches, just as the kernel would.
//
// Errors name the file and the cgroup directory:
//   "write memory.limit_in_bytes in /sys/fs/cgroup/memory/x: Device or resource busy"
//
// Pure functions over paths; any thread.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/result.h"

namespace berth::cgroups {

// Page-rounded "no limit" values (v1 reports 9223372036854771712) are all
// above this; a real limit never is.
inline constexpr uint64_t kUnlimitedFloor = uint64_t{1} << 62;

// The controllers a container cgroup is given (v2 enables these, when the
// parent has them, in each ancestor's cgroup.subtree_control).
inline constexpr std::string_view kV2Controllers[] = {"cpuset", "cpu", "io", "memory", "pids"};

// "/" + "a/b" = "/a/b"; "/x" + "/a" = "/x/a". Never a trailing slash.
std::string join_path(std::string_view a, std::string_view b);

// The path, relative to a hierarchy's root, of `parent/name`: a relative
// `parent` is under `self` (the daemon's own cgroup), an absolute one from
// the root. Rejects an empty or slashed name and ".." anywhere, so a
// container name can never leave the hierarchy.
Result<std::string> cgroup_path(std::string_view self, std::string_view parent, std::string_view name);
// The same for `parent` itself: where the children named by cgroup_path are.
Result<std::string> cgroup_parent_path(std::string_view self, std::string_view parent);

// Where create() starts making directories: `self` for a relative parent,
// "/" for an absolute one. The components of `path` below it exist or are made.
std::string creation_start(std::string_view self, std::string_view parent);

bool has_control(const std::string& dir, std::string_view file);
Result<std::string> read_control(const std::string& dir, std::string_view file);
// nullopt when the file does not exist (controller absent, older kernel).
Result<std::optional<std::string>> read_control_if_exists(const std::string& dir, std::string_view file);
Result<void> write_control(const std::string& dir, std::string_view file, std::string_view value);

std::string_view trim(std::string_view s);
std::optional<uint64_t> parse_u64(std::string_view s);
// A single-number file ("123\n"); "max" is an error here, see read_limit.
Result<uint64_t> read_u64(const std::string& dir, std::string_view file);
// A limit file: "max" and page-rounded huge values read as 0 (unlimited).
Result<uint64_t> read_limit(const std::string& dir, std::string_view file);

// "key value" lines (memory.stat, cpu.stat, memory.events), in file order;
// lines that do not parse are skipped.
std::vector<std::pair<std::string, uint64_t>> parse_flat_keyed(std::string_view text);
std::optional<uint64_t> keyed_value(std::string_view text, std::string_view key);

// Whitespace-separated words ("cpuset cpu io memory pids"); a leading '+'
// (as a test fixture's cgroup.subtree_control may hold) is dropped.
std::vector<std::string> words(std::string_view text);

Result<std::vector<pid_t>> read_procs(const std::string& dir);

// SIGKILLs each pid; ones already gone (ESRCH) are fine.
Result<void> kill_each(const std::vector<pid_t>& pids);

// kill_all() without a freezer: processes can fork between the read of
// cgroup.procs and the kill, so SIGKILL the new ones for a bounded number of
// rounds, until a read shows no pid not yet signalled.
Result<void> kill_in_rounds(const std::string& dir);

// The names of `dir`'s child directories (its child cgroups); none when
// `dir` does not exist.
Result<std::vector<std::string>> child_cgroups(const std::string& dir);
// rmdir `dir` after its child cgroups, deepest first (cgroupfs removes the
// control files with the directory; only subdirectories need removing).
// ENOENT is success; EBUSY (processes still in it) is kConflict.
Result<void> remove_cgroup_dir(const std::string& dir);

// Nanoseconds since an arbitrary point (CLOCK_MONOTONIC), for poll_until.
int64_t monotonic_ns();
void sleep_ns(int64_t ns);

// Calls `check` (returning Result<bool>) until it yields true, sleeping 1 ms
// growing to 10 ms between calls, for at most `timeout_ms`. False on
// timeout. Blocks: job pool only.
template <class F>
Result<bool> poll_until(int timeout_ms, F&& check) {
  const int64_t deadline = monotonic_ns() + int64_t{timeout_ms} * 1000000;
  int64_t nap = 1000000;
  for (;;) {
    bool done = BERTH_TRY(check());
    if (done) return true;
    if (monotonic_ns() >= deadline) return false;
    sleep_ns(nap);
    nap = std::min<int64_t>(nap * 2, 10000000);
  }
}

}  // namespace berth::cgroups
