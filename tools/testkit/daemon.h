// TestDaemon: a real berthd for one test fixture or benchmark, in its own temp root,
// exec-root and socket, inside its own network namespace (made by the
// fixture with only lo, up, and joined by the child before exec; the same
// one across restarts, so a restarted daemon finds what its predecessor
// left there). Stopped with SIGTERM (then SIGKILL, by PID) and its
// directory removed when the fixture ends; the namespace goes with it.
//
// berthd runs with --no-live-restore unless set_live_restore(true), so a
// stop() stops its containers; the keeper (core/runtime/keeper.h), which
// outlives berthd, is killed by PID when the fixture ends, and its
// containers with it (they die with their keeper).
//
// Also: running berthctl against it, raw socket requests for malformed-input
// tests, and counters for leak checks (fds, mounts, child processes).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipc/client/client.h"

namespace berth::test {

bool is_root();
std::string bin_path(const std::string& name);   // build/bin/<name>
bool have_program(const std::string& name);      // in PATH

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs argv with stdin from `input` (or /dev/null), capturing stdout/stderr.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "",
                          const std::vector<std::string>& extra_env = {});

class TestDaemon {
 public:
  TestDaemon();
  ~TestDaemon();
  TestDaemon(const TestDaemon&) = delete;
  TestDaemon& operator=(const TestDaemon&) = delete;

  // Starts berthd; false (with `error`) if it did not come up.
  bool start(std::string* error);
  // More berthd flags for start(), e.g. "--warm-inits=0".
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // Puts the daemon's root on a tmpfs of `mib` MiB in a mount namespace of
  // its own (made by the child before exec; gone with the daemon), for
  // disk-full tests. Read its files through root_view().
  void set_root_tmpfs_mib(int mib) { root_tmpfs_mib_ = mib; }
  // root() as this process can read it: through /proc/<pid>/root when the
  // root is on the daemon's own tmpfs.
  std::string root_view() const;
  // berthd's open-file limit (soft and hard; berthd raises its soft limit
  // to the hard one), for tests of what it does when out of fds. 0: ours.
  void set_fd_limit(unsigned n) { fd_limit_ = n; }
  // Brings up lo in berthd's network namespace before it starts, so that it
  // can listen on 127.0.0.1 there (tests of -H tcp://); reach it with
  // `nsenter --net=/proc/<pid()>/ns/net`.
  void set_loopback_up(bool up) { loopback_up_ = up; }
  // berthd's --root on a tmpfs of `bytes`, mounted by the first start() and
  // unmounted by the destructor (tests of a full disk).
  void set_root_tmpfs(size_t bytes) { root_tmpfs_bytes_ = bytes; }
  // SIGTERM and reap; returns berthd's exit status, or kLeftCgroups (with
  // the cgroups and the log's end on stderr) when it exited 0 but left a
  // container cgroup under cgroup_parent().
  static constexpr int kLeftCgroups = 1000;
  int stop();
  std::vector<std::string> leftover_cgroups() const;   // "controller:name" under cgroup_parent()
  // SIGKILL of berthd and of its keeper, without any cleanup by either: as
  // after a reboot, the containers are gone (they die with the keeper).
  void crash();
  // SIGKILL of berthd only: its containers live on in the keeper.
  void crash_daemon_only();
  // The keeper's pid (from <exec-root>/keeper.pid), 0 if none runs.
  pid_t keeper_pid() const;
  // SIGKILL of the keeper; waits (bounded) until it is gone.
  bool kill_keeper();
  // The berthd binary start() executes ("": the build's); a live upgrade
  // test replaces that file.
  void set_binary(std::string path) { binary_ = std::move(path); }
  // berthd's --live-restore (default here: --no-live-restore).
  void set_live_restore(bool on) { live_restore_ = on; }

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string root() const { return dir_ + "/root"; }
  std::string socket() const { return dir_ + "/exec/berth.sock"; }
  std::string host() const { return "unix://" + socket(); }
  // The daemon's --cgroup-parent (relative: under this process's cgroups),
  // unique per daemon and removed with it.
  std::string cgroup_parent() const;
  // A container's cgroup directory in the v1 hierarchy of `controller`
  // (under this process's cgroup there, then cgroup_parent()); "" if none.
  std::string container_cgroup(const std::string& controller, const std::string& id) const;
  std::string log() const;   // the daemon's stderr so far
  // Whether the log comes to hold `needle` within 30 s: berthd's lines go
  // through a writer thread, so one logged just before a reply may not be
  // in the file yet when the reply arrives.
  bool wait_log(const std::string& needle) const;

  ipc::Client client();
  // Imports the busybox test image as busybox:latest (once per daemon).
  bool import_busybox(std::string* error);
  CommandResult ctl(const std::vector<std::string>& args, const std::string& input = "");
  // Runs argv on "the host side": in the daemon's network namespace (the
  // bridges, published ports, the proxies on its loopback), via nsenter.
  CommandResult host_command(const std::vector<std::string>& argv, const std::string& input = "");
  int netns_fd() const { return netns_holder_; }
  // Sends raw bytes on a fresh connection and returns everything read until
  // the daemon closes it or `max_bytes` arrive.
  std::string raw(const std::string& bytes, size_t max_bytes = 1 << 20);

  // Leak counters. Warm inits (core/engine/warm.h: processes named
  // "berth:warm", directories without a state file) are the daemon's
  // pool, not containers: the counters leave out the ready ones.
  int open_fds() const;            // of the berthd process
  int child_processes() const;     // processes whose parent is berthd or its keeper, but warm inits and the keeper
  int mounts_under(const std::string& prefix) const;  // in berthd's mount namespace
  int container_dirs() const;      // under <root>/containers, but ready warm inits'

  // Ready warm inits: id -> pid, from the daemon's log ("warm init id=...
  // pid=..."), for those whose directory still has no state file and whose
  // process is alive and named berth:warm.
  std::map<std::string, pid_t> warm_inits() const;
  // Waits (bounded by attempts) until no warm init is in the making: every
  // state-less directory is a ready warm init, twice in a row 20 ms apart.
  bool wait_warm_quiet() const;

 private:
  void remove_cgroup_parent() const;
  std::string dir_;
  std::vector<std::string> extra_args_;
  int root_tmpfs_mib_ = 0;
  unsigned fd_limit_ = 0;
  bool loopback_up_ = false;
  bool live_restore_ = false;
  std::string binary_;
  size_t root_tmpfs_bytes_ = 0;
  bool root_mounted_ = false;
  pid_t pid_ = -1;
  int netns_holder_ = -1;
};

}  // namespace berth::test
