// The cgroup v1 driver against the real kernel: create under the test
// process's own cgroups, place a forked child, apply limits, read them back
// through cgroupfs, freeze, kill everything, remove. Needs root and a v1 (or
// hybrid) host; skips otherwise. Everything made is removed in TearDown,
// which then checks that no directory is left in any hierarchy.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cgroups/cgroups.h"
#include "cgroups/control.h"
#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string read_or_empty(const std::string& path) {
  auto r = read_file(path);
  return r ? trimmed(*r) : "";
}

// The entries of `dir` (none when it cannot be read).
std::optional<std::vector<std::string>> names_in(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

// One write of `value` to a cgroupfs file.
bool write_value(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == ssize_t(value.size());
  ::close(fd);
  return ok;
}

bool has_word(const std::string& list, std::string_view w) {
  for (const std::string& x : split(list, ',')) {
    if (x == w) return true;
  }
  return false;
}

// Mount point of the v1 hierarchy carrying `controller`.
std::string mount_of(std::string_view controller) {
  for (const std::string& line : split(read_or_empty("/proc/self/mountinfo"), '\n')) {
    std::vector<std::string> f = split(line, ' ');
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || f.end() - sep < 4 || *(sep + 1) != "cgroup") continue;
    if (has_word(*(sep + 3), controller)) return f[4];
  }
  return "";
}

// The cgroup of `pid` in the v1 hierarchy carrying `controller`.
std::string cgroup_of(pid_t pid, std::string_view controller) {
  for (const std::string& line : split(read_or_empty(fmt::format("/proc/{}/cgroup", pid)), '\n')) {
    std::vector<std::string> f = split(line, ':');
    if (f.size() >= 3 && has_word(f[1], controller)) return f[2];
  }
  return "";
}

// `rel` under this process's cgroup in the hierarchy carrying `controller`.
std::string mine(std::string_view controller, const std::string& rel) {
  std::string self = cgroup_of(::getpid(), controller);
  return (self == "/" ? "" : self) + "/" + rel;
}

// A child that waits for a byte on `go`, touches 4 MiB (charged to the
// cgroup it is in by then), answers on `ready` and pauses. Only
// async-signal-safe calls after fork.
pid_t spawn_child(int go[2], int ready[2]) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  char c;
  if (::read(go[0], &c, 1) != 1) ::_exit(1);
  void* p = ::mmap(nullptr, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) ::_exit(2);
  std::memset(p, 1, 4 * kMiB);
  if (::write(ready[1], "r", 1) != 1) ::_exit(3);
  for (;;) ::pause();
}

class CgroupsV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto d = detect();
    ASSERT_TRUE(d.has_value()) << d.error().message();
    if ((*d)->version() != Version::kV1) GTEST_SKIP() << "needs cgroup v1 (this host is cgroup v2)";
    driver_ = std::move(*d);
    parent_ = "berth-test-" + random_id().substr(0, 12);
    ASSERT_EQ(::pipe2(go_, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(ready_, O_CLOEXEC), 0);
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    for (int fd : {go_[0], go_[1], ready_[0], ready_[1]}) {
      if (fd >= 0) ::close(fd);
    }
    if (!driver_) return;
    driver_->drain_pool();
    // Removes berth-test-*/ and whatever a failed test left under it, with
    // a driver that keeps no memory cgroup (this one would keep the test's
    // own parent, in this process's cgroup).
    DetectOptions no_pool;
    no_pool.driver.memcg_pool = 0;
    auto cleaner = detect(no_pool);
    ASSERT_TRUE(cleaner.has_value()) << cleaner.error().message();
    auto top = (*cleaner)->open("", parent_);
    if (top) {
      Result<void> r = destroy_retrying(**top);
      EXPECT_TRUE(r.has_value()) << r.error().message();
    }
    for (const std::string& c : driver_->controllers()) {
      std::string dir = mount_of(c) + mine(c, parent_);
      EXPECT_FALSE(path_exists(dir)) << "left behind: " << dir;
    }
    EXPECT_EQ(kept_in(mount_of("memory") + mine("memory", "")), 0u) << "a kept memory cgroup in this process's own";
  }

  // The memory cgroups kept for reuse directly under `dir`.
  static size_t kept_in(const std::string& dir) {
    size_t n = 0;
    auto names = names_in(dir);
    if (names)
      for (const std::string& name : *names) n += starts_with(name, ".berth-pool-");
    return n;
  }

  // The memory hierarchy's directory of `rel` under the test's parent.
  std::string memdir(const std::string& rel = "") const {
    return mount_of("memory") + mine("memory", rel.empty() ? parent_ : parent_ + "/" + rel);
  }

  // Forks a process into `cg` that touches `touch` bytes, writes `write`
  // bytes to `file` (page cache charged to the cgroup) and exits; waits
  // for it. Its exit status.
  int run_in(Cgroup& cg, size_t touch, size_t write = 0, const std::string& file = "") {
    int go[2];
    if (::pipe2(go, O_CLOEXEC) < 0) return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      if (::read(go[0], &c, 1) != 1) ::_exit(1);
      if (touch) {
        void* p = ::mmap(nullptr, touch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) ::_exit(2);
        std::memset(p, 1, touch);
      }
      if (write) {
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        static char buf[65536];
        for (size_t done = 0; fd >= 0 && done < write; done += sizeof buf)
          if (::write(fd, buf, sizeof buf) != ssize_t(sizeof buf)) ::_exit(3);
      }
      ::_exit(0);
    }
    ::close(go[0]);
    auto added = cg.add_process(pid);
    EXPECT_TRUE(added.has_value()) << added.error().message();
    EXPECT_EQ(::write(go[1], "g", 1), 1);
    ::close(go[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
  }

  // Starts the child, places it in `cg`, lets it touch its memory.
  void start_child_in(Cgroup& cg) {
    child_ = spawn_child(go_, ready_);
    ASSERT_GT(child_, 0);
    auto added = cg.add_process(child_);
    ASSERT_TRUE(added.has_value()) << added.error().message();
    ASSERT_EQ(::write(go_[1], "g", 1), 1);
    char c;
    ASSERT_EQ(::read(ready_[0], &c, 1), 1);
  }

  std::unique_ptr<Driver> driver_;
  std::string parent_;
  pid_t child_ = -1;
  int go_[2] = {-1, -1}, ready_[2] = {-1, -1};
};

TEST_F(CgroupsV1, Lifecycle) {
  auto made = driver_->create(parent_, "c1");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  std::unique_ptr<Cgroup> cg = std::move(*made);
  EXPECT_EQ(cg->path(), mine("memory", parent_ + "/c1"));
  start_child_in(*cg);

  for (const std::string& c : driver_->controllers()) {  // every hierarchy, not just memory
    // cpuset: the parent's, until a cpuset is asked for.
    EXPECT_EQ(cgroup_of(child_, c), mine(c, c == "cpuset" ? parent_ : parent_ + "/c1")) << c;
  }
  EXPECT_EQ(*cg->pids(), std::vector<pid_t>{child_});

  Resources r;
  r.memory = 64 * kMiB;
  r.pids_limit = 20;
  auto set = cg->set(r);
  ASSERT_TRUE(set.has_value()) << set.error().message();
  std::string mem_dir = mount_of("memory") + cg->path();
  std::string pids_dir = mount_of("pids") + cgroup_of(child_, "pids");
  EXPECT_EQ(read_or_empty(mem_dir + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(read_or_empty(pids_dir + "/pids.max"), "20");

  auto st = cg->stats();
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_GT(st->memory_usage, 0u);
  EXPECT_EQ(st->memory_limit, uint64_t(64 * kMiB));
  EXPECT_FALSE(st->memory_stat.empty());
  EXPECT_EQ(st->pids_current, 1u);
  EXPECT_EQ(st->pids_limit, 20u);
  EXPECT_EQ(*cg->oom_kills(), 0u);
  auto notifier = cg->oom_notifier();
  ASSERT_TRUE(notifier.has_value()) << notifier.error().message();

  ASSERT_TRUE(cg->freeze().has_value());
  EXPECT_TRUE(*cg->frozen());
  ASSERT_TRUE(cg->thaw().has_value());
  EXPECT_FALSE(*cg->frozen());

  auto busy = cg->destroy();  // a live process keeps it
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code(), Code::kConflict) << busy.error().message();

  ASSERT_TRUE(cg->kill_all().has_value());
  int status = 0;
  ASSERT_EQ(::waitpid(child_, &status, 0), child_);
  child_ = -1;
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  Result<void> gone = destroy_retrying(*cg);
  ASSERT_TRUE(gone.has_value()) << gone.error().message();
  EXPECT_FALSE(path_exists(mem_dir));
  EXPECT_FALSE(path_exists(pids_dir));
}

// The kernel refuses memory.limit > memsw.limit at any moment: raising and
// lowering both must succeed.
TEST_F(CgroupsV1, MemoryAndSwapRaiseAndLower) {
  auto made = driver_->create(parent_, "c2");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  std::unique_ptr<Cgroup> cg = std::move(*made);
  std::string dir = mount_of("memory") + cg->path();
  if (!path_exists(dir + "/memory.memsw.limit_in_bytes")) GTEST_SKIP() << "no swap accounting (swapaccount=0)";
  const std::pair<int64_t, int64_t> steps[] = {{64, 128}, {256, 512}, {32, 64}, {128, 128}};
  for (auto [memory, swap] : steps) {
    Resources r;
    r.memory = memory * kMiB;
    r.memory_swap = swap * kMiB;
    auto s = cg->set(r);
    ASSERT_TRUE(s.has_value()) << memory << "/" << swap << ": " << s.error().message();
    EXPECT_EQ(read_or_empty(dir + "/memory.limit_in_bytes"), std::to_string(memory * kMiB));
    EXPECT_EQ(read_or_empty(dir + "/memory.memsw.limit_in_bytes"), std::to_string(swap * kMiB));
  }
  Resources lift;
  lift.memory = 0;  // unlimited, memsw lifted with it
  ASSERT_TRUE(cg->set(lift).has_value());
  EXPECT_EQ(read_or_empty(dir + "/memory.limit_in_bytes"), "9223372036854771712");
  ASSERT_TRUE(cg->destroy().has_value());
}

TEST_F(CgroupsV1, CpuCpusetAndBlkio) {
  auto made = driver_->create(parent_, "c3");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  std::unique_ptr<Cgroup> cg = std::move(*made);
  std::string cpu = mount_of("cpu") + mine("cpu", parent_ + "/c3");
  std::string cpuset = mount_of("cpuset") + mine("cpuset", parent_ + "/c3");
  // No cpuset leaf until one is asked for: the child is in the parent's,
  // which has cpus and mems (a cpuset cgroup without them takes no task).
  EXPECT_FALSE(path_exists(cpuset));
  start_child_in(*cg);
  EXPECT_EQ(cgroup_of(child_, "cpuset"), mine("cpuset", parent_));
  EXPECT_NE(read_or_empty(mount_of("cpuset") + mine("cpuset", parent_) + "/cpuset.cpus"), "");
  Resources r;
  r.nano_cpus = 500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0";
  auto s = cg->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(read_or_empty(cpu + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read_or_empty(cpu + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read_or_empty(cpu + "/cpu.shares"), "512");
  EXPECT_EQ(read_or_empty(cpuset + "/cpuset.cpus"), "0");
  EXPECT_NE(read_or_empty(cpuset + "/cpuset.mems"), "");  // copied from the parent
  // Moved, and running again (the move froze it).
  EXPECT_EQ(cgroup_of(child_, "cpuset"), mine("cpuset", parent_ + "/c3"));
  EXPECT_FALSE(*cg->frozen());
  std::string status = read_or_empty(fmt::format("/proc/{}/status", child_));
  EXPECT_NE(status.find("Cpus_allowed_list:\t0\n"), std::string::npos) << status;
  Resources blkio;
  blkio.blkio_weight = 300;
  auto b = cg->set(blkio);
  if (b) {
    std::string dir = mount_of("blkio") + mine("blkio", parent_ + "/c3");
    std::string w = read_or_empty(dir + "/blkio.weight");
    if (w.empty()) w = read_or_empty(dir + "/blkio.bfq.weight");
    EXPECT_NE(w.find("300"), std::string::npos) << w;
  } else {
    EXPECT_EQ(b.error().code(), Code::kNotSupported) << b.error().message();
  }
  ASSERT_TRUE(cg->kill_all().has_value());
  ASSERT_EQ(::waitpid(child_, nullptr, 0), child_);
  child_ = -1;
  Result<void> gone = destroy_retrying(*cg);
  ASSERT_TRUE(gone.has_value()) << gone.error().message();
  EXPECT_FALSE(path_exists(cpuset));
}

// `key`'s value in a flat keyed file's text (~0 when absent).
uint64_t counted_in(const std::string& text, std::string_view key) {
  for (const auto& [k, v] : parse_flat_keyed(text))
    if (k == key) return v;
  return ~uint64_t(0);
}

// The memory cgroup of an ended container is kept (reset, renamed in its
// parent) and the next create() there takes it instead of a mkdir: a
// memory cgroup's death costs a kworker the global cgroup_mutex for a walk
// of every list_lru of the system (v1_cgroup.h, MemcgPool).
TEST_F(CgroupsV1, AnEndedMemoryCgroupIsResetKeptAndTakenByTheNext) {
  auto made = driver_->create(parent_, "p1");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  std::unique_ptr<Cgroup> cg = std::move(*made);
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_reservation = 32 * kMiB;
  ASSERT_TRUE(cg->set(r).has_value());
  ASSERT_EQ(run_in(*cg, 256 * 1024), 0);
  std::string p1 = memdir("p1");
  // What a privileged container could write in its own memory cgroup.
  ASSERT_TRUE(write_value(p1 + "/memory.swappiness", "7"));
  ASSERT_TRUE(write_value(p1 + "/memory.oom_control", "1"));
  std::string raw = read_or_empty(p1 + "/memory.stat");
  ASSERT_NE(raw.find("\npgfault "), std::string::npos) << raw;

  ASSERT_TRUE(destroy_retrying(*cg).has_value());
  EXPECT_FALSE(path_exists(p1));
  for (const std::string& c : driver_->controllers())
    if (c != "memory" && c != "cpuset") EXPECT_FALSE(path_exists(mount_of(c) + mine(c, parent_ + "/p1"))) << c;
  ASSERT_EQ(kept_in(memdir()), 1u);
  std::string kept;
  auto names = names_in(memdir());
  ASSERT_TRUE(names.has_value());
  for (const std::string& n : *names)
    if (starts_with(n, ".berth-pool-")) kept = memdir() + "/" + n;
  EXPECT_EQ(read_or_empty(kept + "/memory.limit_in_bytes"), read_or_empty(memdir() + "/memory.limit_in_bytes"));
  EXPECT_EQ(read_or_empty(kept + "/memory.soft_limit_in_bytes"), read_or_empty(memdir() + "/memory.soft_limit_in_bytes"));
  EXPECT_EQ(read_or_empty(kept + "/memory.swappiness"), read_or_empty(memdir() + "/memory.swappiness"));
  EXPECT_NE(read_or_empty(kept + "/memory.oom_control").find("oom_kill_disable 0"), std::string::npos);
  EXPECT_LE(std::stoull(read_or_empty(kept + "/memory.usage_in_bytes")), 1u << 20);   // MemcgPool::kMaxCarried
  EXPECT_EQ(counted_in(read_or_empty(kept + "/memory.stat"), "rss"), 0u);
  EXPECT_LE(std::stoull(read_or_empty(kept + "/memory.max_usage_in_bytes")), 1u << 20);   // reset to what is in use
  EXPECT_EQ(read_or_empty(kept + "/memory.failcnt"), "0");

  // The next one takes it: renamed, not made.
  made = driver_->create(parent_, "p2");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  cg = std::move(*made);
  EXPECT_EQ(kept_in(memdir()), 0u);
  EXPECT_FALSE(path_exists(kept));
  std::string p2 = memdir("p2");
  ASSERT_TRUE(path_exists(p2));
  EXPECT_EQ(cg->path(), mine("memory", parent_ + "/p2"));
  // Its events so far are p1's: the kernel's file says so, stats() not.
  auto counted = [](const std::vector<std::pair<std::string, uint64_t>>& kv, std::string_view key) {
    for (const auto& [k, v] : kv)
      if (k == key) return v;
    return uint64_t(~0ull);
  };
  EXPECT_GT(counted(parse_flat_keyed(read_or_empty(p2 + "/memory.stat")), "pgfault"), 0u);
  EXPECT_GT(cg->counter_base()[2], 0u);
  auto st = cg->stats();
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(counted(st->memory_stat, "pgfault"), 0u);
  EXPECT_EQ(counted(st->memory_stat, "total_pgfault"), 0u);
  EXPECT_EQ(counted(st->memory_stat, "pgpgin"), 0u);
  // A process of its own counts from there.
  ASSERT_EQ(run_in(*cg, 256 * 1024), 0);
  st = cg->stats();
  ASSERT_TRUE(st.has_value());
  EXPECT_GT(counted(st->memory_stat, "pgfault"), 0u);
  EXPECT_LT(counted(st->memory_stat, "pgfault"), counted(parse_flat_keyed(read_or_empty(p2 + "/memory.stat")), "pgfault"));
  // The base survives an open() anew (a restarted berthd sets it from the state).
  auto reopened = driver_->open(parent_, "p2");
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ((*reopened)->counter_base(), Cgroup::CounterBase{});
  (*reopened)->set_counter_base(cg->counter_base());
  EXPECT_EQ(counted((*reopened)->stats()->memory_stat, "pgfault"), counted(cg->stats()->memory_stat, "pgfault"));
  reopened->reset();

  // A driver of its own (a berthd after a crash) takes up what was kept.
  ASSERT_TRUE(destroy_retrying(*cg).has_value());
  ASSERT_EQ(kept_in(memdir()), 1u);
  auto fresh = detect();
  ASSERT_TRUE(fresh.has_value());
  made = (*fresh)->create(parent_, "p3");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  EXPECT_EQ(kept_in(memdir()), 0u);
  EXPECT_GT((*made)->counter_base()[2], 0u);
  ASSERT_TRUE(destroy_retrying(**made).has_value());
  EXPECT_EQ(kept_in(memdir()), 1u);
  (*fresh)->drain_pool();
  EXPECT_EQ(kept_in(memdir()), 0u);
}

// Kept only what starts the next one clean, and no more than the bound.
TEST_F(CgroupsV1, MemoryCgroupsThatWouldCarrySomethingAreRemoved) {
  DetectOptions one;
  one.driver.memcg_pool = 1;
  auto d = detect(one);
  ASSERT_TRUE(d.has_value());
  Driver& drv = **d;

  // Page cache it was first to touch (4 MiB written): more than may be carried.
  std::string file = "/var/tmp/berth-memcg-" + random_id().substr(0, 8);
  auto made = drv.create(parent_, "cache");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  ASSERT_EQ(run_in(**made, 0, 4 * kMiB, file), 0);
  EXPECT_GT(std::stoull(read_or_empty(memdir("cache") + "/memory.usage_in_bytes")), uint64_t(kMiB));
  ASSERT_TRUE(destroy_retrying(**made).has_value());
  ::unlink(file.c_str());
  EXPECT_FALSE(path_exists(memdir("cache")));
  EXPECT_EQ(kept_in(memdir()), 0u);

  // An OOM kill counted (memory.oom_control's oom_kill cannot be reset).
  made = drv.create(parent_, "oom");
  ASSERT_TRUE(made.has_value()) << made.error().message();
  Resources r;
  r.memory = 8 * kMiB;
  r.memory_swap = 8 * kMiB;
  if ((*made)->set(r).has_value()) {
    int status = run_in(**made, 64 * kMiB);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    EXPECT_EQ(*(*made)->oom_kills(), 1u);
    ASSERT_TRUE(destroy_retrying(**made).has_value());
    EXPECT_FALSE(path_exists(memdir("oom")));
    EXPECT_EQ(kept_in(memdir()), 0u);
  } else {
    ASSERT_TRUE(destroy_retrying(**made).has_value());   // no swap accounting: no sure OOM kill here
  }

  // A child cgroup in it (a privileged container's).
  made = drv.create(parent_, "nested");
  ASSERT_TRUE(made.has_value());
  ASSERT_EQ(::mkdir((memdir("nested") + "/inner").c_str(), 0755), 0);
  ASSERT_TRUE(destroy_retrying(**made).has_value());
  EXPECT_FALSE(path_exists(memdir("nested")));
  EXPECT_EQ(kept_in(memdir()), 0u);

  // Two clean ones with a bound of one: one kept.
  auto a = drv.create(parent_, "a");
  auto b = drv.create(parent_, "b");
  ASSERT_TRUE(a.has_value() && b.has_value());
  ASSERT_TRUE(destroy_retrying(**a).has_value());
  ASSERT_TRUE(destroy_retrying(**b).has_value());
  EXPECT_FALSE(path_exists(memdir("a")));
  EXPECT_FALSE(path_exists(memdir("b")));
  EXPECT_EQ(kept_in(memdir()), 1u);
  drv.drain_pool();
  EXPECT_EQ(kept_in(memdir()), 0u);
}

}  // namespace
}  // namespace berth::cgroups
