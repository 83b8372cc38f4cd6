#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "cgroups/cgroups.h"
#include "cgroups/control.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

using test::CgroupTree;
using test::kMiB;

constexpr char kAll[] = "cpuset cpu io memory pids\n";

// A v2 host: the root delegates everything; the daemon runs in
// /system.slice/berthd, whose children get nothing until it enables them.
class V2Test : public ::testing::Test {
 protected:
  static constexpr char kSelf[] = "cg/system.slice/berthd";
  static constexpr char kLeaf[] = "cg/system.slice/berthd/berth/c1";

  void SetUp() override {
    t_.put("cg/cgroup.controllers", kAll);
    t_.put("cg/cgroup.subtree_control", kAll);
    t_.put(std::string(kSelf) + "/cgroup.controllers", kAll);
    t_.put(std::string(kSelf) + "/cgroup.subtree_control", "");
    DriverOptions o;
    o.freeze_timeout_ms = 30;
    driver_ = make_v2(t_.path("cg"), "/system.slice/berthd", o);
  }

  std::string f(std::string_view file) const { return std::string(kLeaf) + "/" + std::string(file); }

  // berth/ and berth/c1 with the files the kernel would show.
  std::unique_ptr<Cgroup> populated() {
    t_.put(std::string(kSelf) + "/berth/cgroup.controllers", kAll);
    t_.put(std::string(kSelf) + "/berth/cgroup.subtree_control", "");
    const std::pair<const char*, const char*> files[] = {
        {"cgroup.procs", ""},
        {"cgroup.controllers", kAll},
        {"cgroup.subtree_control", ""},
        {"cgroup.events", "populated 1\nfrozen 0\n"},
        {"cgroup.freeze", "0\n"},
        {"cgroup.kill", ""},
        {"memory.max", "max\n"},
        {"memory.swap.max", "max\n"},
        {"memory.low", "0\n"},
        {"memory.current", "1048576\n"},
        {"memory.peak", "4194304\n"},
        {"memory.stat", "anon 8192\nfile 4096\nkernel_stack 16384\n"},
        {"memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n"},
        {"cpu.weight", "100\n"},
        {"cpu.max", "max 100000\n"},
        {"cpu.stat",
         "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 3\nthrottled_usec 250\n"},
        {"cpuset.cpus", ""},
        {"cpuset.mems", ""},
        {"pids.max", "max\n"},
        {"pids.current", "3\n"},
        {"io.weight", "default 100\n"},
        {"io.stat", "8:16 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n"
                    "253:0 rbytes=10 wbytes=20 rios=3 wios=4 dbytes=0 dios=0\n"},
    };
    for (auto& [name, content] : files) t_.put(f(name), content);
    auto cg = driver_->create("berth", "c1");
    EXPECT_TRUE(cg.has_value()) << cg.error().message();
    return cg ? std::move(*cg) : nullptr;
  }

  CgroupTree t_;
  std::unique_ptr<Driver> driver_;
};

// open_all() gives every child directory of the parent, opened as open()
// opens it, and nothing for a parent that is not there.
TEST_F(V2Test, OpenAllGivesEveryChildOfTheParent) {
  ASSERT_TRUE(populated());
  t_.put(std::string(kSelf) + "/berth/c2/cgroup.procs", "");
  auto all = driver_->open_all("berth");
  ASSERT_TRUE(all.has_value()) << all.error().message();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at("c1")->path(), "/system.slice/berthd/berth/c1");
  EXPECT_EQ(all->at("c2")->path(), "/system.slice/berthd/berth/c2");
  EXPECT_GE(all->at("c1")->clone_into_fd(), 0);
  auto none = driver_->open_all("nothing-here");
  ASSERT_TRUE(none.has_value()) << none.error().message();
  EXPECT_TRUE(none->empty());
}

TEST_F(V2Test, CreateEnablesControllersTopDown) {
  EXPECT_EQ(driver_->version(), Version::kV2);
  EXPECT_EQ(driver_->controllers(), (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "pids"}));
  auto cg = populated();
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->path(), "/system.slice/berthd/berth/c1");
  EXPECT_GE(cg->clone_into_fd(), 0);
  EXPECT_EQ(t_.get(std::string(kSelf) + "/cgroup.subtree_control"), "+cpuset +cpu +io +memory +pids");
  // The containers' parent: no cpuset until a container asks for one.
  EXPECT_EQ(t_.get(std::string(kSelf) + "/berth/cgroup.subtree_control"), "+cpu +io +memory +pids");
  EXPECT_EQ(t_.get(f("cgroup.subtree_control")), "");  // the leaf delegates nothing
  EXPECT_EQ(t_.get("cg/cgroup.subtree_control"), kAll);  // above the starting point: untouched
}

TEST_F(V2Test, CreateEnablesOnlyWhatIsOfferedAndMissing) {
  t_.put(std::string(kSelf) + "/cgroup.controllers", "cpu memory pids hugetlb\n");
  t_.put(std::string(kSelf) + "/cgroup.subtree_control", "memory\n");
  auto cg = driver_->create("berth", "c2");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ(t_.get(std::string(kSelf) + "/cgroup.subtree_control"), "+cpu +pids");
  EXPECT_TRUE(t_.exists(std::string(kSelf) + "/berth/c2"));
}

TEST_F(V2Test, CreateWithAbsoluteParentStartsAtTheRoot) {
  auto cg = driver_->create("/berth", "c3");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ((*cg)->path(), "/berth/c3");
  EXPECT_TRUE(t_.exists("cg/berth/c3"));
  EXPECT_EQ(t_.get("cg/cgroup.subtree_control"), kAll);  // all on already: not rewritten
  auto again = driver_->open("/berth", "c3");
  ASSERT_TRUE(again.has_value()) << again.error().message();
  auto missing = driver_->open("/berth", "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
}

// A container asking for a cpuset where its parent has not enabled the
// controller for its children: set() enables it, then writes the limit.
TEST_F(V2Test, CpusetIsEnabledInTheParentWhenAskedFor) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  std::string parent = std::string(kSelf) + "/berth";
  t_.put(parent + "/cgroup.subtree_control", "+cpu +io +memory +pids");
  ASSERT_TRUE(std::filesystem::remove(t_.path(f("cpuset.cpus"))));
  ASSERT_TRUE(std::filesystem::remove(t_.path(f("cpuset.mems"))));
  Resources r;
  r.cpuset_cpus = "1";
  auto refused = cg->set(r);  // a plain file: enabling makes no cpuset.cpus here
  EXPECT_EQ(t_.get(parent + "/cgroup.subtree_control"), "+cpuset");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("cpuset.cpus"), std::string::npos) << refused.error().message();
  // As the kernel would show it once enabled.
  t_.put(f("cpuset.cpus"), "");
  t_.put(f("cpuset.mems"), "");
  t_.put(parent + "/cgroup.subtree_control", "untouched");
  auto s = cg->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(t_.get(f("cpuset.cpus")), "1");
  EXPECT_EQ(t_.get(parent + "/cgroup.subtree_control"), "untouched");
}

TEST_F(V2Test, SetWritesEachLimit) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_swap = 192 * kMiB;
  r.memory_reservation = 32 * kMiB;
  r.nano_cpus = 500000000;
  r.cpu_shares = 1024;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.pids_limit = 10;
  r.blkio_weight = 500;
  auto s = cg->set(r);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(t_.get(f("memory.max")), "67108864");
  EXPECT_EQ(t_.get(f("memory.swap.max")), "134217728");  // memory+swap minus memory
  EXPECT_EQ(t_.get(f("memory.low")), "33554432");
  EXPECT_EQ(t_.get(f("cpu.max")), "50000 100000");
  EXPECT_EQ(t_.get(f("cpu.weight")), "39");  // 1 + (1024-2)*9999/262142
  EXPECT_EQ(t_.get(f("cpuset.cpus")), "0-1");
  EXPECT_EQ(t_.get(f("cpuset.mems")), "0");
  EXPECT_EQ(t_.get(f("pids.max")), "10");
  EXPECT_EQ(t_.get(f("io.weight")), "4950");  // 1 + (500-10)*9999/990

  Resources unlimited;
  unlimited.memory = 0;
  unlimited.memory_swap = -1;
  unlimited.memory_reservation = 0;
  unlimited.nano_cpus = 0;
  unlimited.pids_limit = 0;
  ASSERT_TRUE(cg->set(unlimited).has_value());
  EXPECT_EQ(t_.get(f("memory.max")), "max");
  EXPECT_EQ(t_.get(f("memory.swap.max")), "max");
  EXPECT_EQ(t_.get(f("memory.low")), "0");
  EXPECT_EQ(t_.get(f("cpu.max")), "max");
  EXPECT_EQ(t_.get(f("pids.max")), "max");
}

TEST_F(V2Test, SharesToWeightEnds) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  for (auto [shares, weight] : {std::pair{2, "1"}, std::pair{262144, "10000"}, std::pair{1, "1"}}) {
    Resources r;
    r.cpu_shares = shares;
    ASSERT_TRUE(cg->set(r).has_value());
    EXPECT_EQ(t_.get(f("cpu.weight")), weight) << shares;
  }
}

TEST_F(V2Test, CpuMaxFromQuotaAndPeriod) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  Resources r;
  r.cpu_quota = 20000;
  r.cpu_period = 50000;
  ASSERT_TRUE(cg->set(r).has_value());
  EXPECT_EQ(t_.get(f("cpu.max")), "20000 50000");
  t_.put(f("cpu.max"), "30000 100000\n");
  Resources period_only;
  period_only.cpu_period = 200000;
  ASSERT_TRUE(cg->set(period_only).has_value());
  EXPECT_EQ(t_.get(f("cpu.max")), "30000 200000");  // the quota stays
  Resources quota_only;
  quota_only.cpu_quota = -1;
  ASSERT_TRUE(cg->set(quota_only).has_value());
  EXPECT_EQ(t_.get(f("cpu.max")), "max");
}

TEST_F(V2Test, SwapNeedsAMemoryLimit) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  Resources swap_only;
  swap_only.memory_swap = 128 * kMiB;
  auto s = cg->set(swap_only);  // memory.max is "max"
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  t_.put(f("memory.max"), "67108864\n");
  ASSERT_TRUE(cg->set(swap_only).has_value());  // uses the memory limit in force
  EXPECT_EQ(t_.get(f("memory.swap.max")), "67108864");

  Resources lifted;  // memory unlimited with a memory+swap limit: refused before any write
  lifted.memory = 0;
  lifted.memory_swap = 128 * kMiB;
  ASSERT_FALSE(cg->set(lifted).has_value());
  EXPECT_EQ(t_.get(f("memory.max")), "67108864\n");
}

TEST_F(V2Test, MissingFilesAreNotSupportedAndNothingIsWritten) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_EQ(::unlink(t_.path(f("memory.swap.max")).c_str()), 0);
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_swap = 128 * kMiB;
  auto s = cg->set(r);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Code::kNotSupported);
  EXPECT_EQ(s.error().message(), "Your kernel does not support swap limit capabilities or the cgroup is not mounted");
  EXPECT_EQ(t_.get(f("memory.max")), "max\n");

  ASSERT_EQ(::unlink(t_.path(f("pids.max")).c_str()), 0);  // pids controller not enabled
  Resources p;
  p.pids_limit = 5;
  s = cg->set(p);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Code::kNotSupported);
  EXPECT_NE(s.error().message().find("no pids.max"), std::string::npos) << s.error().message();
  p.pids_limit = 0;  // "unlimited" is what a missing controller gives anyway
  EXPECT_TRUE(cg->set(p).has_value());
}

TEST_F(V2Test, BfqWeightWinsOverIoWeight) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  t_.put(f("io.bfq.weight"), "default 100\n");
  Resources r;
  r.blkio_weight = 500;
  ASSERT_TRUE(cg->set(r).has_value());
  EXPECT_EQ(t_.get(f("io.bfq.weight")), "500");
  EXPECT_EQ(t_.get(f("io.weight")), "default 100\n");
}

TEST_F(V2Test, Stats) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  auto s = cg->stats();
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->memory_usage, 1048576u);
  EXPECT_EQ(s->memory_max_usage, 4194304u);
  EXPECT_EQ(s->memory_limit, 0u);
  ASSERT_EQ(s->memory_stat.size(), 3u);
  EXPECT_EQ(s->memory_stat[2], (std::pair<std::string, uint64_t>{"kernel_stack", 16384}));
  EXPECT_EQ(s->cpu_total_ns, 1500000u);
  EXPECT_EQ(s->cpu_user_ns, 1000000u);
  EXPECT_EQ(s->cpu_system_ns, 500000u);
  EXPECT_TRUE(s->cpu_percpu_ns.empty());
  EXPECT_EQ(s->throttling_periods, 7u);
  EXPECT_EQ(s->throttled_periods, 3u);
  EXPECT_EQ(s->throttled_time_ns, 250000u);
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 0u);
  EXPECT_EQ(s->oom_kills, 1u);
  ASSERT_EQ(s->io_service_bytes.size(), 4u);
  EXPECT_EQ(s->io_service_bytes[0].major, 8u);
  EXPECT_EQ(s->io_service_bytes[0].minor, 16u);
  EXPECT_EQ(s->io_service_bytes[0].op, "Read");
  EXPECT_EQ(s->io_service_bytes[0].value, 1024u);
  EXPECT_EQ(s->io_service_bytes[1].op, "Write");
  EXPECT_EQ(s->io_service_bytes[1].value, 2048u);
  EXPECT_EQ(s->io_service_bytes[3].major, 253u);
  ASSERT_EQ(s->io_serviced.size(), 4u);
  EXPECT_EQ(s->io_serviced[3].value, 4u);

  ASSERT_EQ(::unlink(t_.path(f("memory.peak")).c_str()), 0);  // before Linux 5.19
  t_.put(f("memory.max"), "67108864\n");
  t_.put(f("pids.max"), "50\n");
  s = cg->stats();
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->memory_max_usage, 0u);
  EXPECT_EQ(s->memory_limit, 67108864u);
  EXPECT_EQ(s->pids_limit, 50u);
}

TEST_F(V2Test, OomKillsAndNotifier) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  EXPECT_EQ(*cg->oom_kills(), 1u);
  auto fd = cg->oom_notifier();
  ASSERT_TRUE(fd.has_value()) << fd.error().message();
  pollfd p{fd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  std::string events = t_.path(f("memory.events"));
  FILE* file = ::fopen(events.c_str(), "a");  // in place: the watch is on this inode
  ASSERT_NE(file, nullptr);
  ::fputs("oom_kill 2\n", file);
  ::fclose(file);
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
}

TEST_F(V2Test, FreezeWaitsForTheKernelToSayFrozen) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  EXPECT_FALSE(*cg->frozen());
  t_.put(f("cgroup.events"), "populated 1\nfrozen 1\n");  // what the kernel would report
  ASSERT_TRUE(cg->freeze().has_value());
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "1");
  EXPECT_TRUE(*cg->frozen());
  ASSERT_TRUE(cg->thaw().has_value());
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "0");
}

TEST_F(V2Test, FreezeTimesOutAndThawsAgain) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  int64_t start = monotonic_ns();
  auto r = cg->freeze();  // cgroup.events keeps saying "frozen 0"
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kSystem);
  EXPECT_EQ(r.error().message(),
            "freeze cgroup /system.slice/berthd/berth/c1: not frozen after 30 ms; thawed it again");
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "0");
  EXPECT_LT(monotonic_ns() - start, 1000 * 1000000LL);
}

TEST_F(V2Test, KillAllUsesCgroupKill) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->kill_all().has_value());
  EXPECT_EQ(t_.get(f("cgroup.kill")), "1");
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "0\n");  // no freeze needed
}

TEST_F(V2Test, KillAllBefore514FreezesSignalsThaws) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_EQ(::unlink(t_.path(f("cgroup.kill")).c_str()), 0);
  t_.put(f("cgroup.events"), "populated 0\nfrozen 1\n");
  ASSERT_TRUE(cg->kill_all().has_value());  // cgroup.procs is empty: no one to signal
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "0");
}

TEST_F(V2Test, KillAllSignalsEvenWhenTheFreezeTimesOut) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_EQ(::unlink(t_.path(f("cgroup.kill")).c_str()), 0);
  ASSERT_TRUE(cg->kill_all().has_value());  // "frozen 0" forever; cgroup.procs empty
  EXPECT_EQ(t_.get(f("cgroup.freeze")), "0");
}

TEST_F(V2Test, AddProcessAndPids) {
  auto cg = populated();
  ASSERT_TRUE(cg);
  ASSERT_TRUE(cg->add_process(777).has_value());
  EXPECT_EQ(t_.get(f("cgroup.procs")), "777");
  t_.put(f("cgroup.procs"), "777\n778\n");
  EXPECT_EQ(*cg->pids(), (std::vector<pid_t>{777, 778}));
}

TEST_F(V2Test, DestroyRemovesTheLeafAndItsChildren) {
  // cgroupfs drops control files with rmdir; a temp dir holding files
  // would fail with ENOTEMPTY, so this cgroup has none.
  auto cg = driver_->create("berth", "c9");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  t_.mkdir(std::string(kSelf) + "/berth/c9/inner/deeper");
  ASSERT_TRUE((*cg)->destroy().has_value());
  EXPECT_FALSE(t_.exists(std::string(kSelf) + "/berth/c9"));
  EXPECT_TRUE(t_.exists(std::string(kSelf) + "/berth"));
  EXPECT_TRUE((*cg)->destroy().has_value());
}

}  // namespace
}  // namespace berth::cgroups
