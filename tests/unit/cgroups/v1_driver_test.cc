#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "cgroups/cgroups.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

using test::CgroupTree;
using test::kMiB;

constexpr char kUnlimited[] = "9223372036854771712\n";

// A v1 host: the daemon in /process_api/x of the memory hierarchy and at
// the root of the others; cpu and cpuacct co-mounted.
class V1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* m : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "blkio"}) t_.mkdir(m);
    t_.mkdir("memory/process_api/x");
    t_.put("cpuset/cpuset.cpus", "0-3\n");
    t_.put("cpuset/cpuset.mems", "0\n");
    DriverOptions o;
    o.freeze_timeout_ms = 50;
    driver_ = make_v1({{t_.path("memory"), "/process_api/x", {"memory"}},
                       {t_.path("cpu,cpuacct"), "/", {"cpu", "cpuacct"}},
                       {t_.path("cpuset"), "/", {"cpuset"}},
                       {t_.path("pids"), "/", {"pids"}},
                       {t_.path("freezer"), "/", {"freezer"}},
                       {t_.path("blkio"), "/", {"blkio"}}},
                      o);
  }

  // The leaf berth/c1 in hierarchy `h`, relative to the tree.
  static std::string leaf(std::string_view h) {
    return std::string(h) + (h == "memory" ? "/process_api/x/berth/c1" : "/berth/c1");
  }
  std::string f(std::string_view h, std::string_view file) const { return leaf(h) + "/" + std::string(file); }

  // The files the kernel shows in a new cgroup (plus some history), then
  // create() over them.
  std::unique_ptr<Cgroup> populated() {
    t_.put(f("memory", "memory.limit_in_bytes"), kUnlimited);
    t_.put(f("memory", "memory.memsw.limit_in_bytes"), kUnlimited);
    t_.put(f("memory", "memory.soft_limit_in_bytes"), kUnlimited);
    t_.put(f("memory", "memory.usage_in_bytes"), "1048576\n");
    t_.put(f("memory", "memory.max_usage_in_bytes"), "2097152\n");
    t_.put(f("memory", "memory.stat"), "cache 4096\nrss 8192\nhierarchical_memory_limit 9223372036854771712\n");
    t_.put(f("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    t_.put(f("memory", "cgroup.event_control"), "");
    t_.put(f("cpu,cpuacct", "cpu.shares"), "1024\n");
    t_.put(f("cpu,cpuacct", "cpu.cfs_period_us"), "100000\n");
    t_.put(f("cpu,cpuacct", "cpu.cfs_quota_us"), "-1\n");
    t_.put(f("cpu,cpuacct", "cpu.stat"), "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n");
    t_.put(f("cpu,cpuacct", "cpuacct.usage"), "123456789\n");
    t_.put(f("cpu,cpuacct", "cpuacct.usage_percpu"), "100 200 \n");
    t_.put(f("cpu,cpuacct", "cpuacct.stat"), "user 150\nsystem 50\n");
    t_.put("cpuset/berth/cpuset.cpus", "");
    t_.put("cpuset/berth/cpuset.mems", "");
    t_.put(f("cpuset", "cpuset.cpus"), "");
    t_.put(f("cpuset", "cpuset.mems"), "");
    t_.put(f("pids", "pids.max"), "max\n");
    t_.put(f("pids", "pids.current"), "2\n");
    t_.put(f("freezer", "freezer.state"), "THAWED\n");
    t_.put(f("blkio", "blkio.bfq.weight"), "100\n");
    t_.put(f("blkio", "blkio.throttle.io_service_bytes"),
           "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n"
           "8:16 Read 1\nTotal 12289\n");
    t_.put(f("blkio", "blkio.throttle.io_serviced"), "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
    for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "blkio"}) {
      t_.put(f(h, "cgroup.procs"), "");
    }
    auto cg = driver_->create("berth", "c1");
    EXPECT_TRUE(cg.has_value()) << cg.error().message();
    return cg ? std::move(*cg) : nullptr;
  }

  CgroupTree t_;
  std::unique_ptr<Driver> driver_;
};

TEST_F(V1Test, CreateMakesTheDirectoryInEveryHierarchy) {
  EXPECT_EQ(driver_->version(), Version::kV1);
  auto cg = driver_->create("berth", "c1");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ((*cg)->path(), "/process_api/x/berth/c1");
  EXPECT_EQ((*cg)->clone_into_fd(), -1);
  for (const char* h : {"memory", "cpu,cpuacct", "pids", "freezer", "blkio"}) {
    EXPECT_TRUE(t_.exists(leaf(h))) << h;
  }
  // cpuset: the parent only (made and filled), the leaf when asked for.
  EXPECT_FALSE(t_.exists(leaf("cpuset")));
  EXPECT_TRUE(t_.exists("cpuset/berth"));
  auto abs = driver_->create("/top", "c2");  // absolute: from each hierarchy's root
  ASSERT_TRUE(abs.has_value()) << abs.error().message();
  EXPECT_EQ((*abs)->path(), "/top/c2");
  EXPECT_TRUE(t_.exists("memory/top/c2"));
  EXPECT_TRUE(t_.exists("pids/top/c2"));
}

// Without a cpuset asked for, the container's processes are in the
// parent's cpuset; the first set() with one makes the leaf from the
// parent's cpus and mems and moves them there, frozen meanwhile.
TEST_F(V1Test, CpusetLeafIsMadeWhenAskedFor) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_TRUE(std::filesystem::remove_all(t_.path(leaf("cpuset"))));  // populated() wrote files there
  t_.put("cpuset/berth/cgroup.procs", "");
  ASSERT_TRUE(cg->add_process(4242).has_value());
  EXPECT_EQ(t_.get("cpuset/berth/cgroup.procs"), "4242");
  // A parent left empty by a crash is filled from its own parent.
  EXPECT_EQ(t_.get("cpuset/berth/cpuset.cpus"), "");
  t_.put(f("pids", "cgroup.procs"), "4242\n");
  // (The files the kernel would show in the leaf once made.)
  for (const char* file : {"cpuset.cpus", "cpuset.mems", "cgroup.procs"}) t_.put(f("cpuset", file), "");
  Resources r;
  r.cpuset_cpus = "1";
  auto s = cg->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(t_.get("cpuset/berth/cpuset.cpus"), "0-3");
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.cpus")), "1");
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.mems")), "0");
  EXPECT_EQ(t_.get(f("cpuset", "cgroup.procs")), "4242");
  EXPECT_EQ(t_.get(f("freezer", "freezer.state")), "THAWED");
  ASSERT_TRUE(cg->add_process(77).has_value());  // now the leaf's
  EXPECT_EQ(t_.get(f("cpuset", "cgroup.procs")), "77");
}

// A paused container stays paused; one reopened after a restart (no leaf)
// can still be given a cpuset.
TEST_F(V1Test, CpusetOfAPausedOrReopenedCgroup) {
  ASSERT_TRUE(populated());
  ASSERT_TRUE(std::filesystem::remove_all(t_.path(leaf("cpuset"))));
  auto cg = driver_->open("berth", "c1");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  t_.put(f("freezer", "freezer.state"), "FROZEN\n");
  for (const char* file : {"cpuset.cpus", "cpuset.mems", "cgroup.procs"}) t_.put(f("cpuset", file), "");
  Resources r;
  r.cpuset_mems = "0";
  auto s = (*cg)->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_TRUE(t_.exists(leaf("cpuset")));
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.mems")), "0");
  EXPECT_EQ(t_.get(f("freezer", "freezer.state")), "FROZEN\n");
  // A cgroup with no cpuset hierarchy at all refuses one by name.
  auto only_memory = make_v1({{t_.path("memory"), "/process_api/x", {"memory"}}}, {});
  auto m = only_memory->open("berth", "c1");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  auto refused = (*m)->set(r);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("cpuset controller is not mounted"), std::string::npos);
}

TEST_F(V1Test, OpenNeedsAnExistingCgroupAndRejectsBadNames) {
  auto missing = driver_->open("berth", "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_FALSE(driver_->create("berth", "../escape").has_value());
  EXPECT_FALSE(driver_->create("..", "c").has_value());
  ASSERT_TRUE(populated());
  auto again = driver_->open("berth", "c1");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ((*again)->path(), "/process_api/x/berth/c1");
}

// A crash between create()'s mkdirs leaves some hierarchies without the
// directory: open() takes the others, so a restart can destroy them.
TEST_F(V1Test, AHalfMadeCgroupOpensWithWhatItHas) {
  ASSERT_TRUE(driver_->create("berth", "half").has_value());
  for (const char* h : {"cpu,cpuacct", "cpuset", "pids", "freezer", "blkio"})
    std::filesystem::remove_all(t_.path(h) + "/berth/half");
  auto cg = driver_->open("berth", "half");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ((*cg)->path(), "/process_api/x/berth/half");
  std::filesystem::remove_all(t_.path("memory") + "/process_api/x/berth/half");
  auto none = driver_->open("berth", "half");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), Code::kNotFound);
}

// open_all() lists the parent once per hierarchy and gives each name what
// open() would: a whole cgroup (without the cpuset leaf it was never
// given, which a later cpuset still makes), a half-made one, and no file
// or other parent's child.
TEST_F(V1Test, OpenAllGivesWhatOpenGivesFromOneListing) {
  ASSERT_TRUE(populated());
  ASSERT_TRUE(driver_->create("berth", "half").has_value());
  for (const char* h : {"cpu,cpuacct", "cpuset", "pids", "freezer", "blkio"})
    std::filesystem::remove_all(t_.path(h) + "/berth/half");
  t_.put("pids/berth/cgroup.procs", "");          // a file, not a cgroup
  ASSERT_TRUE(driver_->create("other", "c9").has_value());
  auto all = driver_->open_all("berth");
  ASSERT_TRUE(all.has_value()) << all.error().message();
  ASSERT_EQ(all->size(), 2u);
  ASSERT_TRUE(all->count("c1") && all->count("half"));
  for (const char* name : {"c1", "half"}) {
    auto one = driver_->open("berth", name);
    ASSERT_TRUE(one.has_value()) << one.error().message();
    EXPECT_EQ(all->at(name)->path(), (*one)->path()) << name;
  }
  // c1 reopened this way can still be given a cpuset.
  std::filesystem::remove_all(t_.path(leaf("cpuset")));
  all = driver_->open_all("berth");
  ASSERT_TRUE(all.has_value());
  Resources r;
  r.cpuset_mems = "0";
  for (const char* file : {"cpuset.cpus", "cpuset.mems", "cgroup.procs"}) t_.put(f("cpuset", file), "");
  auto s = all->at("c1")->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.mems")), "0");
  // The half-made one destroys what it has.
  ASSERT_TRUE(all->at("half")->destroy().has_value());
  EXPECT_FALSE(t_.exists("memory/process_api/x/berth/half"));
  // A parent that is not there: nothing.
  auto none = driver_->open_all("nothing-here");
  ASSERT_TRUE(none.has_value()) << none.error().message();
  EXPECT_TRUE(none->empty());
}

TEST_F(V1Test, AddProcessWritesEveryHierarchy) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  t_.put("cpuset/berth/cgroup.procs", "");
  ASSERT_TRUE(cg->add_process(4242).has_value());
  for (const char* h : {"memory", "cpu,cpuacct", "pids", "freezer", "blkio"}) {
    EXPECT_EQ(t_.get(f(h, "cgroup.procs")), "4242") << h;
  }
  EXPECT_EQ(t_.get("cpuset/berth/cgroup.procs"), "4242");  // no cpuset asked for: the parent's
  t_.put(f("pids", "cgroup.procs"), "12\n34\n");
  EXPECT_EQ(*cg->pids(), (std::vector<pid_t>{12, 34}));
}

TEST_F(V1Test, SetWritesEachLimit) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_swap = 128 * kMiB;
  r.memory_reservation = 32 * kMiB;
  r.nano_cpus = 500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.pids_limit = 10;
  r.blkio_weight = 300;
  auto s = cg->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), "67108864");
  EXPECT_EQ(t_.get(f("memory", "memory.memsw.limit_in_bytes")), "134217728");
  EXPECT_EQ(t_.get(f("memory", "memory.soft_limit_in_bytes")), "33554432");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.shares")), "512");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.cfs_period_us")), "100000");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.cfs_quota_us")), "50000");
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.cpus")), "0-1");
  EXPECT_EQ(t_.get(f("cpuset", "cpuset.mems")), "0");
  EXPECT_EQ(t_.get(f("pids", "pids.max")), "10");
  EXPECT_EQ(t_.get(f("blkio", "blkio.bfq.weight")), "300");  // no CFQ blkio.weight here

  Resources unlimited;
  unlimited.memory = 0;
  unlimited.memory_reservation = 0;
  unlimited.nano_cpus = 0;
  unlimited.pids_limit = 0;
  ASSERT_TRUE(cg->set(unlimited).has_value());
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), "-1");
  EXPECT_EQ(t_.get(f("memory", "memory.memsw.limit_in_bytes")), "-1");  // lifted with it
  EXPECT_EQ(t_.get(f("memory", "memory.soft_limit_in_bytes")), "-1");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.cfs_quota_us")), "-1");
  EXPECT_EQ(t_.get(f("pids", "pids.max")), "max");

  Resources cfs;
  cfs.cpu_period = 50000;
  cfs.cpu_quota = 25000;
  ASSERT_TRUE(cg->set(cfs).has_value());
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.cfs_period_us")), "50000");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.cfs_quota_us")), "25000");
  EXPECT_EQ(t_.get(f("cpu,cpuacct", "cpu.shares")), "512");  // unset: left alone
}

// memory.limit <= memsw.limit must hold after each write. Writing to
// /dev/full fails, which shows which write came first.
TEST_F(V1Test, MemoryAndSwapWriteOrderFollowsTheDirection) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  std::string memsw = t_.path(f("memory", "memory.memsw.limit_in_bytes"));
  ASSERT_EQ(::unlink(memsw.c_str()), 0);
  ASSERT_EQ(::symlink("/dev/full", memsw.c_str()), 0);

  t_.put(f("memory", "memory.limit_in_bytes"), "67108864\n");
  Resources up;
  up.memory = 256 * kMiB;
  up.memory_swap = 512 * kMiB;
  auto r = cg->set(up);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("write memory.memsw.limit_in_bytes in "), std::string::npos);
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), "67108864\n");  // memsw went first

  t_.put(f("memory", "memory.limit_in_bytes"), "268435456\n");
  Resources down;
  down.memory = 32 * kMiB;
  down.memory_swap = 64 * kMiB;
  ASSERT_FALSE(cg->set(down).has_value());
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), "33554432");  // memory went first
}

TEST_F(V1Test, SwapLimitWithoutSwapAccounting) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_EQ(::unlink(t_.path(f("memory", "memory.memsw.limit_in_bytes")).c_str()), 0);
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_swap = 128 * kMiB;
  r.pids_limit = 5;
  auto s = cg->set(r);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Code::kNotSupported);
  EXPECT_EQ(s.error().message(), "Your kernel does not support swap limit capabilities or the cgroup is not mounted");
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), kUnlimited);  // nothing applied
  EXPECT_EQ(t_.get(f("pids", "pids.max")), "max\n");
  r.memory_swap = -1;  // unlimited swap needs no memsw file
  ASSERT_TRUE(cg->set(r).has_value());
  EXPECT_EQ(t_.get(f("memory", "memory.limit_in_bytes")), "67108864");
}

TEST_F(V1Test, BlkioWeightUnsupported) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_EQ(::unlink(t_.path(f("blkio", "blkio.bfq.weight")).c_str()), 0);
  Resources r;
  r.blkio_weight = 500;
  auto s = cg->set(r);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Code::kNotSupported);
  t_.put(f("blkio", "blkio.weight"), "500\n");
  ASSERT_TRUE(cg->set(r).has_value());
  EXPECT_EQ(t_.get(f("blkio", "blkio.weight")), "500");
}

TEST_F(V1Test, Stats) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  auto s = cg->stats();
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->memory_usage, 1048576u);
  EXPECT_EQ(s->memory_max_usage, 2097152u);
  EXPECT_EQ(s->memory_limit, 0u);  // unlimited
  ASSERT_EQ(s->memory_stat.size(), 3u);
  EXPECT_EQ(s->memory_stat[0].first, "cache");
  EXPECT_EQ(s->memory_stat[1], (std::pair<std::string, uint64_t>{"rss", 8192}));
  EXPECT_EQ(s->cpu_total_ns, 123456789u);
  EXPECT_EQ(s->cpu_percpu_ns, (std::vector<uint64_t>{100, 200}));
  const uint64_t hz = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu_user_ns, 150 * 1000000000ull / hz);
  EXPECT_EQ(s->cpu_system_ns, 50 * 1000000000ull / hz);
  EXPECT_EQ(s->throttling_periods, 10u);
  EXPECT_EQ(s->throttled_periods, 2u);
  EXPECT_EQ(s->throttled_time_ns, 5000u);
  EXPECT_EQ(s->pids_current, 2u);
  EXPECT_EQ(s->pids_limit, 0u);
  ASSERT_EQ(s->io_service_bytes.size(), 7u);  // the device-less "Total" line skipped
  EXPECT_EQ(s->io_service_bytes[1].op, "Write");
  EXPECT_EQ(s->io_service_bytes[1].value, 8192u);
  EXPECT_EQ(s->io_service_bytes[6].minor, 16u);
  ASSERT_EQ(s->io_serviced.size(), 2u);
  EXPECT_EQ(s->io_serviced[0].major, 8u);
  EXPECT_EQ(s->oom_kills, 3u);
  t_.put(f("memory", "memory.limit_in_bytes"), "67108864\n");
  t_.put(f("pids", "pids.max"), "20\n");
  s = cg->stats();
  EXPECT_EQ(s->memory_limit, 67108864u);
  EXPECT_EQ(s->pids_limit, 20u);
}

TEST_F(V1Test, OomKillsAndNotifier) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  EXPECT_EQ(*cg->oom_kills(), 3u);
  auto fd = cg->oom_notifier();
  ASSERT_TRUE(fd.has_value()) << fd.error().message();
  ASSERT_TRUE(*fd);
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  std::string reg = t_.get(f("memory", "cgroup.event_control"));
  EXPECT_EQ(reg.substr(0, reg.find(' ')), std::to_string(fd->get()));  // "<eventfd> <oom_control fd>"
  int oc = std::stoi(reg.substr(reg.find(' ') + 1));
  EXPECT_EQ(::fcntl(oc, F_GETFD), -1);  // closed again (the kernel holds its own reference)
}

TEST_F(V1Test, FreezeThawAndKillAll) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  EXPECT_FALSE(*cg->frozen());
  ASSERT_TRUE(cg->freeze().has_value());  // a plain file reads back FROZEN at once
  EXPECT_EQ(t_.get(f("freezer", "freezer.state")), "FROZEN");
  EXPECT_TRUE(*cg->frozen());
  ASSERT_TRUE(cg->thaw().has_value());
  EXPECT_EQ(t_.get(f("freezer", "freezer.state")), "THAWED");
  ASSERT_TRUE(cg->kill_all().has_value());  // empty cgroup.procs: freeze, nothing to kill, thaw
  EXPECT_EQ(t_.get(f("freezer", "freezer.state")), "THAWED");
}

TEST_F(V1Test, DestroyRemovesTheLeafEverywhere) {
  // cgroupfs drops control files with rmdir; a temp dir holding files
  // would fail with ENOTEMPTY, so this cgroup has none.
  auto cg = driver_->create("berth", "c9");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  t_.mkdir("memory/process_api/x/berth/c9/sub");  // a child cgroup made inside
  ASSERT_TRUE((*cg)->destroy().has_value());
  EXPECT_FALSE(t_.exists("memory/process_api/x/berth/c9"));
  EXPECT_FALSE(t_.exists("pids/berth/c9"));
  EXPECT_TRUE(t_.exists("pids/berth"));  // the parent stays
  EXPECT_TRUE((*cg)->destroy().has_value());  // already gone
  // A cpuset leaf made on demand goes with the others.
  auto with_cpuset = driver_->create("berth", "c8");
  ASSERT_TRUE(with_cpuset.has_value()) << with_cpuset.error().message();
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    t_.put(std::string("cpuset/berth/c8/") + file, "");
    t_.put(std::string("cpuset/berth/") + file, "0");
  }
  t_.put("pids/berth/c8/cgroup.procs", "");
  Resources r;
  r.cpuset_cpus = "0";
  auto set = (*with_cpuset)->set(r);
  ASSERT_TRUE(set.has_value()) << set.error().message();
  EXPECT_EQ(t_.get("cpuset/berth/c8/cpuset.cpus"), "0");
  for (const char* file : {"cpuset.cpus", "cpuset.mems"})
    std::filesystem::remove(t_.path(std::string("cpuset/berth/c8/") + file));
  std::filesystem::remove(t_.path("pids/berth/c8/cgroup.procs"));
  std::filesystem::remove(t_.path("freezer/berth/c8/freezer.state"));
  ASSERT_TRUE((*with_cpuset)->destroy().has_value());
  EXPECT_FALSE(t_.exists("cpuset/berth/c8"));
  EXPECT_FALSE(t_.exists("pids/berth/c8"));
}

}  // namespace
}  // namespace berth::cgroups
