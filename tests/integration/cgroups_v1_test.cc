// The cgroup v1 driver against the real kernel: create under the test
// process's own cgroups, place a forked child, apply limits, read them back
// through cgroupfs, freeze, kill everything, remove. Needs root and a v1 (or
// hybrid) host; skips otherwise. Everything made is removed in TearDown,
// which then checks that no directory is left in any hierarchy.
#include <fcntl.h>
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
    // Removes berth-test-*/ and whatever a failed test left under it.
    auto top = driver_->open("", parent_);
    if (top) {
      Result<void> r = destroy_retrying(**top);
      EXPECT_TRUE(r.has_value()) << r.error().message();
    }
    for (const std::string& c : driver_->controllers()) {
      std::string dir = mount_of(c) + mine(c, parent_);
      EXPECT_FALSE(path_exists(dir)) << "left behind: " << dir;
    }
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

}  // namespace
}  // namespace berth::cgroups
