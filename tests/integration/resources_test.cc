// Resource isolation with real containers on this host's cgroups (v1 here):
// OOM kills reported as such (and kill -9 not), pids limit against a fork
// bomb, a CPU quota, pause/unpause, kill-all, stats, update, top, events,
// and no cgroup left behind.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
namespace stdfs = std::filesystem;

std::string trim_end(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class ResourcesTest : public DaemonSuite {
 protected:
  void SetUp() override {
    DaemonSuite::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!stdfs::exists("/sys/fs/cgroup/memory/cgroup.procs"))
      GTEST_SKIP() << "needs the cgroup v1 memory hierarchy (this suite tests the v1 driver for real)";
  }
  Json request_json(const std::string& method, const std::string& path, const std::string& body = "",
                    int want = 200) {
    auto c = d().client();
    auto r = c.request(method, path, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    if (!r) return Json();
    EXPECT_EQ(r->status, want) << method << " " << path << ": " << r->body;
    return r->body.empty() ? Json() : Json::parse(r->body, nullptr, false);
  }
  Json inspect(const std::string& id) { return request_json("GET", "/containers/" + id + "/json"); }
  std::string run_detached(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    auto r = d().ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.size() >= 64 ? r.out.substr(0, 64) : "";
  }
  void remove(const std::string& id) { d().ctl({"rm", "-f", id}); }
  std::string cgroup_dir(const std::string& controller, const std::string& id) {
    return d().container_cgroup(controller, id);
  }
  // A container's cgroup goes on berthd's job lane after its exit, not
  // before `rm` answers: polled, at most 5 s.
  static bool gone_soon(const std::string& path) {
    return eventually([&] { return !stdfs::exists(path); }, 100);
  }
  int log_lines(const std::string& id) {
    auto out = d().ctl({"logs", id}).out;
    return int(std::count(out.begin(), out.end(), '\n'));
  }
};

TEST_F(ResourcesTest, MemoryLimitOomKillIsReported) {
  int64_t since = now_ns() / 1000000000 - 1;
  // 64 MiB held in a shell variable against a 32 MiB limit.
  auto r = d().ctl({"run", "--name", "oomer", "-m", "32m", "busybox", "sh", "-c",
                    "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(r.exit_code, 137) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("survived")));
  Json j = inspect("oomer");
  EXPECT_EQ(j["State"]["OOMKilled"], true);
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  EXPECT_EQ(j["HostConfig"]["Memory"], 32 << 20);
  EXPECT_EQ(j["HostConfig"]["MemorySwap"], 64 << 20);  // Docker's default: twice the memory
  std::string id = j["Id"];
  EXPECT_TRUE(gone_soon(cgroup_dir("memory", id))) << "cgroup left after exit";
  // The oom event, from the event history.
  auto c = d().client();
  auto ev = c.request("GET", fmt::format("/events?since={}&until={}&filters={}", since, now_ns() / 1000000000 + 1,
                                         ipc::url_encode(R"({"event":["oom"]})")));
  ASSERT_TRUE(ev && ev->status == 200);
  EXPECT_THAT(ev->body, HasSubstr("\"Action\":\"oom\""));
  EXPECT_THAT(ev->body, HasSubstr(id));
  remove(id);
}

TEST_F(ResourcesTest, KillNineIsNotAnOom) {
  std::string id = run_detached({"-m", "32m", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(d().ctl({"kill", id}).exit_code, 0);
  auto w = d().ctl({"wait", id});
  EXPECT_EQ(w.out, "137\n");
  Json j = inspect(id);
  EXPECT_EQ(j["State"]["OOMKilled"], false);
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  remove(id);
}

TEST_F(ResourcesTest, LimitsAreWrittenToTheCgroup) {
  std::string id = run_detached({"-m", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "20",
                                 "--cpuset-cpus", "0", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  auto num = [](const std::string& path) { return trim_end(read_file(path).value_or("?")); };
  EXPECT_EQ(num(cgroup_dir("memory", id) + "/memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(num(cgroup_dir("cpu", id) + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(num(cgroup_dir("cpu", id) + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(num(cgroup_dir("cpu", id) + "/cpu.shares"), "512");
  EXPECT_EQ(num(cgroup_dir("pids", id) + "/pids.max"), "20");
  EXPECT_EQ(num(cgroup_dir("cpuset", id) + "/cpuset.cpus"), "0");
  // The init is in the container's cgroup in every hierarchy.
  Json j = inspect(id);
  int pid = j["State"]["Pid"];
  auto procs = read_file(cgroup_dir("memory", id) + "/cgroup.procs").value_or("");
  EXPECT_THAT(procs, HasSubstr(std::to_string(pid)));
  EXPECT_EQ(j["HostConfig"]["NanoCpus"], 500000000);
  EXPECT_EQ(j["HostConfig"]["PidsLimit"], 20);
  EXPECT_EQ(j["HostConfig"]["CpusetCpus"], "0");
  // update changes a running container's limits, and inspect shows them.
  auto u = d().ctl({"update", "--memory", "96m", "--pids-limit", "30", id});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(num(cgroup_dir("memory", id) + "/memory.limit_in_bytes"), std::to_string(96 << 20));
  EXPECT_EQ(num(cgroup_dir("pids", id) + "/pids.max"), "30");
  j = inspect(id);
  EXPECT_EQ(j["HostConfig"]["Memory"], 96 << 20);
  EXPECT_EQ(j["HostConfig"]["PidsLimit"], 30);
  std::string dir = cgroup_dir("memory", id);
  remove(id);
  EXPECT_TRUE(gone_soon(dir)) << "cgroup left after rm";
  EXPECT_TRUE(gone_soon(cgroup_dir("pids", id)));
}

// Without --cpuset-*, a container has no cpuset cgroup of its own: its
// processes are in the cgroup parent's cpuset. `update --cpuset-cpus` makes
// one and moves every process of the running container into it.
TEST_F(ResourcesTest, CpusetCgroupIsMadeWhenAskedFor) {
  if (!stdfs::exists("/sys/fs/cgroup/cpuset/cgroup.procs")) GTEST_SKIP() << "no v1 cpuset hierarchy on this host";
  std::string id = run_detached({"busybox", "sh", "-c", "sleep 1000 & sleep 1000 & wait"});
  ASSERT_FALSE(id.empty());
  std::string leaf = cgroup_dir("cpuset", id);
  EXPECT_FALSE(stdfs::exists(leaf));   // none until a cpuset is asked for
  std::string parent = leaf.substr(0, leaf.rfind('/'));
  int pid = inspect(id)["State"]["Pid"];
  auto in_parent = read_file(parent + "/cgroup.procs").value_or("");
  EXPECT_THAT(in_parent, HasSubstr(std::to_string(pid) + "\n"));
  auto u = d().ctl({"update", "--cpuset-cpus", "0", id});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(trim_end(read_file(leaf + "/cpuset.cpus").value_or("?")), "0");
  // The init and its two children, all moved, none left in the parent.
  auto pids = split(trim_end(read_file(leaf + "/cgroup.procs").value_or("")), '\n');
  EXPECT_EQ(pids.size(), 3u) << ::testing::PrintToString(pids);
  auto procs = split(trim_end(read_file(cgroup_dir("pids", id) + "/cgroup.procs").value_or("")), '\n');
  std::sort(pids.begin(), pids.end());
  std::sort(procs.begin(), procs.end());
  EXPECT_EQ(pids, procs);
  auto status = read_file("/proc/" + std::to_string(pid) + "/status").value_or("");
  EXPECT_THAT(status, HasSubstr("Cpus_allowed_list:\t0\n"));
  EXPECT_EQ(trim_end(read_file(cgroup_dir("freezer", id) + "/freezer.state").value_or("?")), "THAWED");
  EXPECT_EQ(inspect(id)["HostConfig"]["CpusetCpus"], "0");
  remove(id);
  EXPECT_TRUE(gone_soon(leaf)) << "cpuset cgroup left after rm";
}

TEST_F(ResourcesTest, InvalidLimitsAreRefusedWithDockersMessages) {
  auto small = d().ctl({"run", "--rm", "-m", "4m", "busybox", "true"});
  EXPECT_NE(small.exit_code, 0);
  EXPECT_THAT(small.err, HasSubstr("Minimum memory limit allowed is 6MB"));
  auto cpus = d().ctl({"run", "--rm", "--cpus", "64", "busybox", "true"});
  EXPECT_NE(cpus.exit_code, 0);
  EXPECT_THAT(cpus.err, HasSubstr("Range of CPUs is from 0.01 to"));
  auto swap = d().ctl({"run", "--rm", "-m", "64m", "--memory-swap", "32m", "busybox", "true"});
  EXPECT_NE(swap.exit_code, 0);
  EXPECT_THAT(swap.err, HasSubstr("Minimum memoryswap limit should be larger than memory limit"));
  Json bad = request_json("POST", "/containers/create", R"({"Image":"busybox","HostConfig":{"Memory":"lots"}})", 400);
  EXPECT_THAT(bad["message"].get<std::string>(), HasSubstr("Memory"));
  Json parent = request_json("POST", "/containers/create",
                             R"({"Image":"busybox","HostConfig":{"CgroupParent":"../../escape"}})", 400);
  EXPECT_THAT(parent["message"].get<std::string>(), HasSubstr("CgroupParent"));
}

TEST_F(ResourcesTest, PidsLimitStopsAForkBomb) {
  // A child shell forks 40 background sleepers against a limit of 10: forks
  // beyond it fail (a failed fork ends that shell), the init survives and
  // the host is untouched.
  std::string id = run_detached({"--pids-limit", "10", "busybox", "sh", "-c",
                                 "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done'; "
                                 "echo spawned; exec sleep 1000"});
  ASSERT_FALSE(id.empty());
  std::string pids_dir = cgroup_dir("pids", id);
  for (int i = 0; i < 1000; i++) {
    if (d().ctl({"logs", id}).out.find("spawned") != std::string::npos) break;
    usleep(10000);
  }
  ASSERT_EQ(d().ctl({"logs", id}).out, "spawned\n");
  int current = int(parse_int(trim_end(read_file(pids_dir + "/pids.current").value_or(""))).value_or(-1));
  EXPECT_GE(current, 8);  // the init and the sleepers that fit
  EXPECT_LE(current, 10);
  auto events = trim_end(read_file(pids_dir + "/pids.events").value_or(""));
  EXPECT_THAT(events, testing::StartsWith("max "));
  EXPECT_NE(events, "max 0");  // forks were refused
  auto stats = request_json("GET", "/containers/" + id + "/stats?stream=false&one-shot=true");
  EXPECT_EQ(stats["pids_stats"]["current"], current);
  EXPECT_EQ(stats["pids_stats"]["limit"], 10);
  // The host still forks.
  EXPECT_EQ(run_command({"/bin/true"}).exit_code, 0);
  remove(id);
  EXPECT_TRUE(gone_soon(pids_dir));
}

TEST_F(ResourcesTest, CpuQuotaHoldsABusyLoopNearHalfACore) {
  std::string id = run_detached({"--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done"});
  ASSERT_FALSE(id.empty());
  std::string usage = cgroup_dir("cpuacct", id) + "/cpuacct.usage";
  auto read_ns = [&] { return parse_int(trim_end(read_file(usage).value_or("0"))).value_or(0); };
  usleep(200000);
  int64_t cpu0 = read_ns(), wall0 = now_ns();
  usleep(2000000);
  int64_t cpu1 = read_ns(), wall1 = now_ns();
  double share = double(cpu1 - cpu0) / double(wall1 - wall0);
  // Unlimited, the loop would take a whole core (1.0). Generous bounds: the
  // quota caps it at 0.5 (+ scheduling slack); a noisy host may starve it.
  EXPECT_LT(share, 0.7) << "CPU share " << share;
  EXPECT_GT(share, 0.05) << "CPU share " << share;
  remove(id);
}

TEST_F(ResourcesTest, PauseFreezesAndUnpauseResumes) {
  std::string id = run_detached({"busybox", "sh", "-c", "while :; do echo tick; sleep 0.05; done"});
  ASSERT_FALSE(id.empty());
  for (int i = 0; i < 500 && log_lines(id) < 2; i++) usleep(10000);
  ASSERT_EQ(d().ctl({"pause", id}).exit_code, 0);
  Json j = inspect(id);
  EXPECT_EQ(j["State"]["Status"], "paused");
  EXPECT_EQ(j["State"]["Paused"], true);
  EXPECT_EQ(trim_end(read_file(cgroup_dir("freezer", id) + "/freezer.state").value_or("")), "FROZEN");
  EXPECT_THAT(d().ctl({"ps"}).out, HasSubstr("(Paused)"));
  int frozen = log_lines(id);
  usleep(500000);
  EXPECT_EQ(log_lines(id), frozen) << "output while paused";
  // Paused containers refuse kill and stop, like Docker; pause twice is a conflict.
  auto k = d().ctl({"kill", id});
  EXPECT_NE(k.exit_code, 0);
  EXPECT_THAT(k.err, HasSubstr("is paused"));
  EXPECT_NE(d().ctl({"pause", id}).exit_code, 0);
  ASSERT_EQ(d().ctl({"unpause", id}).exit_code, 0);
  for (int i = 0; i < 1000 && log_lines(id) <= frozen; i++) usleep(10000);
  EXPECT_GT(log_lines(id), frozen);
  EXPECT_EQ(inspect(id)["State"]["Status"], "running");
  EXPECT_NE(d().ctl({"unpause", id}).exit_code, 0);
  // rm -f takes a paused container down too.
  ASSERT_EQ(d().ctl({"pause", id}).exit_code, 0);
  EXPECT_EQ(d().ctl({"rm", "-f", id}).exit_code, 0);
  EXPECT_TRUE(gone_soon(cgroup_dir("freezer", id)));
}

TEST_F(ResourcesTest, DoubleForkedProcessDiesWithItsContainer) {
  std::string id = run_detached({"busybox", "sh", "-c", "(sleep 1000 &); (sh -c 'sleep 1001 &'); sleep 1002"});
  ASSERT_FALSE(id.empty());
  std::vector<int> pids;
  // Three processes that are each one of the sleeps: a forked shell shows
  // as "[exe]" until it has exec'd, and the first shell's own command line
  // names all three.
  for (int i = 0; i < 500; i++) {
    Json top = request_json("GET", "/containers/" + id + "/top");
    pids.clear();
    int sleeps = 0;
    for (auto& p : top["Processes"]) {
      pids.push_back(std::stoi(p[1].get<std::string>()));
      std::string cmd = p[7].get<std::string>();
      sleeps += cmd == "sleep 1000" || cmd == "sleep 1001" || cmd == "sleep 1002";
    }
    if (sleeps == 3) break;
    usleep(10000);
  }
  ASSERT_GE(pids.size(), 3u);
  Json top = request_json("GET", "/containers/" + id + "/top");
  EXPECT_EQ(top["Titles"][7], "CMD");
  EXPECT_THAT(top.dump(), HasSubstr("sleep 1001"));
  ASSERT_EQ(d().ctl({"stop", "-t", "1", id}).exit_code, 0);
  for (int pid : pids) EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " survived its container";
  auto notrunning = request_json("GET", "/containers/" + id + "/top", "", 409);
  EXPECT_THAT(notrunning["message"].get<std::string>(), HasSubstr("is not running"));
  remove(id);
}

TEST_F(ResourcesTest, StatsInDockersShape) {
  std::string id = run_detached({"-m", "64m", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  // stream=false: two samples, so precpu is filled.
  Json s = request_json("GET", "/containers/" + id + "/stats?stream=false");
  EXPECT_EQ(s["id"], id);
  EXPECT_GT(s["memory_stats"]["usage"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["memory_stats"]["limit"], 64 << 20);
  EXPECT_TRUE(s["memory_stats"]["stats"].contains("total_inactive_file") ||
              s["memory_stats"]["stats"].contains("inactive_file"));
  EXPECT_GT(s["cpu_stats"]["cpu_usage"]["total_usage"].get<uint64_t>(), 0u);
  EXPECT_GT(s["cpu_stats"]["system_cpu_usage"].get<uint64_t>(), 0u);
  EXPECT_GT(s["precpu_stats"]["system_cpu_usage"].get<uint64_t>(), 0u);
  EXPECT_GE(s["cpu_stats"]["online_cpus"].get<int>(), 1);
  EXPECT_EQ(s["pids_stats"]["current"], 1);
  // One object is a plain response, head and body together (as dockerd
  // sends it; the docker CLI gives a body 2 s from its head), with the
  // connection kept for the next request.
  auto c = d().client();
  for (const char* q : {"stream=false", "stream=0&one-shot=1"}) {
    auto one = c.request("GET", "/containers/" + id + "/stats?" + q);
    ASSERT_TRUE(one && one->status == 200) << q;
    EXPECT_EQ(one->header("transfer-encoding"), "") << q;
    EXPECT_EQ(one->header("content-length"), std::to_string(one->body.size())) << q;
    EXPECT_EQ(Json::parse(one->body)["id"], id) << q;
  }
  // A stream sends one object per interval until the client leaves.
  auto st = c.start_stream("GET", "/containers/" + id + "/stats");
  ASSERT_TRUE(st && st->status == 200);
  std::string got;
  while (std::count(got.begin(), got.end(), '\n') < 2) {
    auto chunk = c.next_chunk();
    ASSERT_TRUE(chunk && *chunk);
    got += **chunk;
  }
  EXPECT_THAT(got, HasSubstr("\"cpu_stats\""));
  // berthctl stats --no-stream shows the table.
  auto t = d().ctl({"stats", "--no-stream", id});
  EXPECT_EQ(t.exit_code, 0) << t.err;
  EXPECT_THAT(t.out, HasSubstr("MEM USAGE / LIMIT"));
  EXPECT_THAT(t.out, HasSubstr(id.substr(0, 12)));
  EXPECT_THAT(t.out, HasSubstr("64MiB"));
  remove(id);
  // Stopped: one zeroed object.
  std::string id2 = run_detached({"busybox", "true"});
  d().ctl({"wait", id2});
  Json z = request_json("GET", "/containers/" + id2 + "/stats?stream=false");
  EXPECT_EQ(z["read"], "0001-01-01T00:00:00Z");
  remove(id2);
}

TEST_F(ResourcesTest, InfoReportsTheCgroupDriver) {
  Json info = request_json("GET", "/info");
  EXPECT_EQ(info["CgroupDriver"], "cgroupfs");
  EXPECT_EQ(info["CgroupVersion"], "1");
  EXPECT_EQ(info["MemoryLimit"], true);
  EXPECT_EQ(info["PidsLimit"], true);
}

// The memory cgroups kept for reuse directly under `dir` (v1's MemcgPool).
size_t kept_memcgs(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec))
    n += starts_with(e.path().filename().string(), ".berth-pool-");
  return n;
}

// memory.stat's pgfault in a memory cgroup's directory.
uint64_t raw_pgfault(const std::string& dir) {
  auto text = read_file(dir + "/memory.stat");
  if (!text) return 0;
  for (const auto& line : split(*text, '\n'))
    if (starts_with(line, "pgfault ")) return std::stoull(line.substr(8));
  return 0;
}

// On v1 an ended container's memory cgroup is kept and the next container
// takes it (cgroups/v1_cgroup.h, MemcgPool): a memory cgroup's death holds
// the kernel's cgroup_mutex for a walk of every list_lru of the system.
// Its stats count only its own events, also after berthd crashed and came
// back; a clean stop leaves none kept.
TEST(MemcgPoolDaemonTest, AnEndedContainersMemoryCgroupIsTakenByTheNextAndStatsCountItsOwn) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  if (!stdfs::exists("/sys/fs/cgroup/memory/cgroup.procs")) GTEST_SKIP() << "needs the cgroup v1 memory hierarchy";
  TestDaemon d;
  d.set_extra_args({"--warm-inits=0"});   // every start takes its cgroup itself
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d", "--network", "none", "busybox"});
    auto r = d.ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? r.out.substr(0, 64) : std::string();
  };
  auto api_pgfault = [&](const std::string& id) -> uint64_t {
    auto r = d.client().request("GET", "/containers/" + id + "/stats?stream=false&one-shot=true");
    if (!r || r->status != 200) return ~uint64_t(0);
    Json s = Json::parse(r->body, nullptr, false);
    return s["memory_stats"]["stats"].value("pgfault", ~uint64_t(0));
  };

  std::string a = run({"sh", "-c", "seq 1000 > /dev/null; exec sleep 1000"});
  ASSERT_FALSE(a.empty());
  std::string dir_a = d.container_cgroup("memory", a);
  ASSERT_FALSE(dir_a.empty());
  std::string parent = dir_a.substr(0, dir_a.rfind('/'));
  EXPECT_EQ(kept_memcgs(parent), 0u);
  ASSERT_EQ(d.ctl({"rm", "-f", a}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return kept_memcgs(parent) == 1; })) << "the ended container's memory cgroup was not kept";
  EXPECT_FALSE(stdfs::exists(dir_a));

  std::string b = run({"sleep", "1000"});
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(kept_memcgs(parent), 0u) << "the start did not take the kept memory cgroup";
  std::string dir_b = d.container_cgroup("memory", b);
  uint64_t raw = raw_pgfault(dir_b), own = api_pgfault(b);
  EXPECT_LT(own, raw) << "stats count the earlier container's page faults";
  uint64_t base = raw - own;

  // A berthd that crashed and came back reads the base from the state.
  d.crash_daemon_only();
  ASSERT_TRUE(d.start(&err)) << err;
  uint64_t raw2 = raw_pgfault(dir_b), own2 = api_pgfault(b);
  EXPECT_LT(own2, raw2);
  EXPECT_EQ(raw2 - own2, base);

  ASSERT_EQ(d.ctl({"rm", "-f", b}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return kept_memcgs(parent) == 1; }));
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(kept_memcgs(parent), 0u) << "a clean stop left a kept memory cgroup";
}

// A cgroup under berthd's parent that no container has (a crash between a
// container's removal and its cgroup's leaves one) is removed at the next
// start; a running container's, re-adopted, is not touched.
TEST(StrayCgroupTest, ACgroupOfNoContainerIsRemovedAtStart) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  if (!stdfs::exists("/sys/fs/cgroup/memory/cgroup.procs")) GTEST_SKIP() << "needs the cgroup v1 memory hierarchy";
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto r = d.ctl({"run", "-d", "--network", "none", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, 64);
  std::string kept = d.container_cgroup("memory", id);
  ASSERT_TRUE(stdfs::exists(kept));
  d.crash_daemon_only();
  // What the crash would have left: the directories of a removed container.
  std::string stray = std::string(64, 'a');
  std::vector<std::string> made;
  for (const char* controller : {"memory", "pids", "cpu", "freezer"}) {
    std::string own = d.container_cgroup(controller, id);
    if (own.empty()) continue;
    std::string dir = own.substr(0, own.rfind('/') + 1) + stray;
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
    made.push_back(dir);
  }
  ASSERT_FALSE(made.empty());
  ASSERT_TRUE(d.start(&err)) << err;
  for (const auto& dir : made) {
    EXPECT_FALSE(stdfs::exists(dir)) << "left: " << dir;
    ::rmdir(dir.c_str());   // so that a failure here leaves nothing either
  }
  EXPECT_THAT(d.log(), HasSubstr("which no container has"));
  EXPECT_TRUE(stdfs::exists(kept)) << "the running container's cgroup went";
  EXPECT_EQ(inspect_in(d, id)["State"]["Running"], true);
  EXPECT_EQ(d.ctl({"rm", "-f", id}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
