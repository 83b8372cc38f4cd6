// Issue 17, part 1: containers outlive berthd. The keeper
// (core/runtime/keeper.h) is their parent and holds their output pipes, so
// a berthd killed with SIGKILL and started again finds them running and
// takes them back: same pids, logs without a gap, exit codes of those that
// ended meanwhile. Real berthd (TestDaemon), real busybox containers.
//
// Waits are bounded by attempts, never asserted on time.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>
#include <filesystem>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/suite.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-12-06T15:20:55.123456789Z" (Docker's FinishedAt) as ns since the epoch.
std::optional<int64_t> parse_rfc3339_nano(const std::string& s) {
  tm t{};
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (!rest) return std::nullopt;
  int64_t ns = int64_t(::timegm(&t)) * 1000000000;
  if (*rest == '.') {
    int64_t scale = 100000000;
    for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10) ns += (*rest - '0') * scale;
  }
  return ns;
}

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    std::string err;
    ASSERT_TRUE(d_.start(&err)) << err;
    ASSERT_TRUE(d_.import_busybox(&err)) << err;
  }

  Json inspect(const std::string& name) {
    auto r = d_.client().request("GET", "/containers/" + name + "/json");
    if (!r || r->status != 200) return Json();
    return Json::parse(r->body);
  }
  pid_t pid_of(const std::string& name) {
    Json j = inspect(name);
    return j.is_null() ? 0 : j["State"]["Pid"].get<pid_t>();
  }
  // Stop berthd, then check that it left nothing: no keeper, no container
  // process, no mount under its root (stop() itself checks the cgroups).
  void stop_clean() {
    EXPECT_EQ(d_.stop(), 0);
    EXPECT_TRUE(eventually([&] { return d_.keeper_pid() == 0; })) << "the keeper outlived a --no-live-restore stop";
    EXPECT_EQ(d_.mounts_under(d_.root()), 0);
    for (pid_t p : pids_) EXPECT_TRUE(eventually([&] { return !alive(p); })) << "container process " << p << " left";
  }

  void whole_logs_through(const std::function<void()>& outage);

  TestDaemon d_;
  std::vector<pid_t> pids_;   // every container process seen, for the leak check
};

// The numbers 0..n-1, one a line, and nothing else.
::testing::AssertionResult consecutive(const std::string& log, long* last) {
  long want = 0;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) break;  // a last line cut by the kill
    std::string line = log.substr(pos, nl - pos);
    if (line != std::to_string(want))
      return ::testing::AssertionFailure() << "line " << want << " is \"" << line << "\"";
    want++;
    pos = nl + 1;
  }
  *last = want - 1;
  return ::testing::AssertionSuccess();
}

// 50 containers writing numbered lines flat out through `outage` (a
// berthd crash, or a live upgrade): same pids after it, and every log
// holds each line exactly once, in order, no gap.
void KeeperTest::whole_logs_through(const std::function<void()>& outage) {
  constexpr int kContainers = 50;
  // Bursts of 200 lines as fast as sh writes them, then a pause of 5 ms.
  const std::string script =
      "i=0; while :; do echo $i; i=$((i+1)); if [ $((i % 200)) = 0 ]; then usleep 5000; fi; done";
  std::vector<std::string> names;
  for (int i = 0; i < kContainers; i++) {
    names.push_back("w" + std::to_string(i));
    auto r = d_.ctl({"run", "-d", "--network", "none", "--name", names.back(), "busybox", "sh", "-c", script});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::map<std::string, pid_t> before;
  for (const auto& n : names) {
    before[n] = pid_of(n);
    ASSERT_GT(before[n], 0);
    pids_.push_back(before[n]);
  }
  // Some output in every log before the outage.
  for (const auto& n : names)
    ASSERT_TRUE(eventually([&] { return d_.ctl({"logs", "--tail", "1", n}).out.size() > 0; })) << n;

  pid_t keeper = d_.keeper_pid();
  ASSERT_GT(keeper, 0);
  outage();
  for (const auto& n : names) EXPECT_TRUE(alive(before[n])) << n << " died with berthd";
  EXPECT_EQ(d_.keeper_pid(), keeper);
  EXPECT_TRUE(d_.wait_log("keeper found pid=" + std::to_string(keeper))) << d_.log();

  for (const auto& n : names) {
    Json j = inspect(n);
    EXPECT_EQ(j["State"]["Status"], "running") << n;
    EXPECT_EQ(j["State"]["Pid"].get<pid_t>(), before[n]) << n;
  }
  // The pumps go on: each log grows past what it had, then the writers are
  // killed and every log is read whole.
  std::map<std::string, size_t> sizes;
  for (const auto& n : names) sizes[n] = d_.ctl({"logs", n}).out.size();
  for (const auto& n : names)
    EXPECT_TRUE(eventually([&] { return d_.ctl({"logs", n}).out.size() > sizes[n] + 4096; })) << n;
  for (const auto& n : names) ASSERT_EQ(d_.ctl({"kill", n}).exit_code, 0) << n;
  for (const auto& n : names) {
    ASSERT_TRUE(eventually([&] { return inspect(n)["State"]["Status"] == "exited"; })) << n;
    auto logs = d_.ctl({"logs", n});
    ASSERT_EQ(logs.exit_code, 0);
    long last = -1;
    EXPECT_TRUE(consecutive(logs.out, &last)) << n;
    EXPECT_GT(last, 1000) << n;
  }
  stop_clean();
}

// A crash in the middle of a record's write leaves a torn record at the
// log's end and a torn entry at its index's: the restart cuts both back to
// what was whole, and what the container writes next follows it (whole
// lines from `logs`, the index still finding the last one).
TEST_F(KeeperTest, ATornRecordIsCutAtTheRestartAndTheLogGoesOn) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "torn", "busybox", "sh", "-c",
                   "trap 'echo two' USR1; echo one; while :; do sleep 1; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = pid_of("torn");
  ASSERT_GT(pid, 0);
  pids_.push_back(pid);
  ASSERT_TRUE(eventually([&] { return d_.ctl({"logs", "--tail", "1", "torn"}).out == "one\n"; }));
  std::string id = inspect("torn")["Id"];
  std::string log = d_.root() + "/containers/" + id + "/container.log", idx = log + ".idx";
  d_.crash_daemon_only();
  auto size = [](const std::string& path) { return std::filesystem::file_size(path); };
  const auto log_size = size(log), idx_size = size(idx);
  ASSERT_GT(log_size, 0u);
  ASSERT_GT(idx_size, 0u);
  // What a write cut by the crash leaves: part of a record's header, part
  // of an index entry.
  auto append = [](const std::string& path, size_t n) {
    FILE* f = std::fopen(path.c_str(), "ab");
    ASSERT_TRUE(f);
    for (size_t i = 0; i < n; i++) std::fputc(0x5a, f);
    std::fclose(f);
  };
  append(log, 7);
  append(idx, 5);
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  EXPECT_EQ(size(log), log_size);
  EXPECT_EQ(size(idx), idx_size);
  EXPECT_TRUE(d_.wait_log("cutting 7 bytes of a record torn by the crash")) << d_.log();
  EXPECT_EQ(pid_of("torn"), pid);
  ASSERT_EQ(d_.ctl({"kill", "-s", "USR1", "torn"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return d_.ctl({"logs", "torn"}).out == "one\ntwo\n"; })) << d_.ctl({"logs", "torn"}).out;
  EXPECT_EQ(d_.ctl({"logs", "--tail", "1", "torn"}).out, "two\n");
  EXPECT_EQ(d_.ctl({"rm", "-f", "torn"}).exit_code, 0);
  stop_clean();
}

// SIGCHLD coalesces: 30 containers killed at once send fewer signals than
// exits. The keeper reaps the child each signal names, then walks for the
// rest: every one is reaped and reported, none left a zombie.
TEST_F(KeeperTest, ExitsKilledAtOnceAreEachReapedAndReported) {
  constexpr int kContainers = 30;
  std::vector<std::string> names;
  std::vector<pid_t> pids;
  for (int i = 0; i < kContainers; i++) {
    names.push_back("k" + std::to_string(i));
    auto r = d_.ctl({"run", "-d", "--network", "none", "--name", names.back(), "busybox", "sleep", "1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    pids.push_back(pid_of(names.back()));
    ASSERT_GT(pids.back(), 0);
    pids_.push_back(pids.back());
  }
  for (pid_t p : pids) ASSERT_EQ(::kill(p, SIGKILL), 0);
  for (size_t i = 0; i < names.size(); i++) {
    auto w = d_.ctl({"wait", names[i]});
    EXPECT_EQ(w.out, "137\n") << names[i] << " " << w.err;
    EXPECT_TRUE(eventually([&] { return !alive(pids[i]); })) << "pid " << pids[i] << " not reaped";
  }
  for (const auto& n : names) EXPECT_EQ(d_.ctl({"rm", n}).exit_code, 0);
  stop_clean();
}

TEST_F(KeeperTest, ContainersSurviveDaemonCrashWithWholeLogs) {
  whole_logs_through([&] {
    d_.crash_daemon_only();
    ::sleep(2);  // the outage: the containers go on writing into the held pipes
    std::string err;
    ASSERT_TRUE(d_.start(&err)) << err;
  });
}

// The same through a live upgrade (SIGHUP: berthd re-executes its binary,
// tools/berthd/main.cc; the replaced-binary case is in upgrade_test.cc).
TEST_F(KeeperTest, ContainersSurviveALiveUpgradeWithWholeLogs) {
  whole_logs_through([&] {
    pid_t pid = d_.pid();
    ASSERT_EQ(::kill(pid, SIGHUP), 0);
    EXPECT_TRUE(eventually([&] { return d_.log().find("listening sockets taken over") != std::string::npos; }))
        << d_.log();
    EXPECT_EQ(d_.pid(), pid);
  });
}

TEST_F(KeeperTest, ExitDuringOutageKeepsCodeAndTime) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "quitter", "busybox", "sh", "-c",
                   "trap 'exit 7' TERM; echo trapped; while :; do sleep 1; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Until the trap is set, SIGTERM to the pid namespace's init (no handler
  // yet) is ignored, and the container would never end.
  ASSERT_TRUE(eventually([&] { return d_.ctl({"logs", "quitter"}).out == "trapped\n"; }));
  pid_t pid = pid_of("quitter");
  ASSERT_GT(pid, 0);
  pids_.push_back(pid);
  d_.crash_daemon_only();
  int64_t down_ns = now_ns();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);   // meanwhile, the container ends
  ASSERT_TRUE(eventually([&] { return !alive(pid); }));
  std::string err;
  int64_t up_ns = now_ns();
  ASSERT_TRUE(d_.start(&err)) << err;
  Json j = inspect("quitter");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 7);
  EXPECT_EQ(j["State"]["Error"], "");
  auto finished = parse_rfc3339_nano(j["State"]["FinishedAt"].get<std::string>());
  ASSERT_TRUE(finished.has_value()) << j["State"]["FinishedAt"];
  EXPECT_GE(*finished, down_ns);
  EXPECT_LE(*finished, up_ns);
  EXPECT_EQ(d_.ctl({"wait", "quitter"}).out, "7\n");
  stop_clean();
}

TEST_F(KeeperTest, ExecLogsStopAndKillWorkOnSurvivors) {
  for (const char* n : {"a", "b", "c"}) {
    auto r = d_.ctl({"run", "-d", "--network", "none", "--name", n, "busybox", "sh", "-c",
                     "echo started; while :; do sleep 1; done"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    pids_.push_back(pid_of(n));
  }
  d_.crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  for (const char* n : {"a", "b", "c"}) ASSERT_EQ(inspect(n)["State"]["Status"], "running") << n;
  // exec: spawned by the keeper, its exit code from it.
  auto ex = d_.ctl({"exec", "a", "sh", "-c", "echo in-$HOSTNAME; exit 3"});
  EXPECT_EQ(ex.exit_code, 3);
  EXPECT_THAT(ex.out, HasSubstr("in-"));
  // logs -f follows the re-adopted pump until the container is killed.
  CommandResult follow;
  std::thread t([&] { follow = d_.ctl({"logs", "-f", "a"}); });
  ASSERT_TRUE(eventually([&] { return d_.ctl({"exec", "a", "sh", "-c", "echo more > /proc/1/fd/1"}).exit_code == 0; }));
  ::usleep(200000);
  EXPECT_EQ(d_.ctl({"kill", "a"}).exit_code, 0);
  t.join();
  EXPECT_EQ(follow.exit_code, 0);
  EXPECT_EQ(follow.out, "started\nmore\n");
  EXPECT_EQ(d_.ctl({"wait", "a"}).out, "137\n");
  // stats read the re-opened cgroup; attach streams the re-adopted pump.
  auto stats = d_.ctl({"stats", "--no-stream", "b"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, ::testing::ContainsRegex("b +[0-9.]+% +[1-9][0-9.]*[KMG]iB / "));
  CommandResult attached;
  std::thread at([&] { attached = d_.ctl({"attach", "--no-stdin", "c"}); });
  EXPECT_TRUE(eventually([&] {
    (void)d_.ctl({"exec", "c", "sh", "-c", "echo via-attach > /proc/1/fd/1"});
    return d_.ctl({"logs", "c"}).out.find("via-attach") != std::string::npos && ::usleep(100000) == 0;
  }));
  // stop: SIGTERM is ignored by a pid-1 sh, so SIGKILL after the timeout.
  EXPECT_EQ(d_.ctl({"stop", "-t", "1", "b"}).exit_code, 0);
  EXPECT_EQ(inspect("b")["State"]["Status"], "exited");
  EXPECT_EQ(inspect("b")["State"]["ExitCode"], 137);
  EXPECT_EQ(d_.ctl({"kill", "-s", "KILL", "c"}).exit_code, 0);
  EXPECT_EQ(d_.ctl({"wait", "c"}).out, "137\n");
  at.join();
  EXPECT_THAT(attached.out, HasSubstr("via-attach"));
  // And a new container next to them.
  auto fresh = d_.ctl({"run", "--rm", "--network", "none", "busybox", "echo", "fresh"});
  EXPECT_EQ(fresh.exit_code, 0);
  EXPECT_EQ(fresh.out, "fresh\n");
  stop_clean();
}

TEST_F(KeeperTest, KeeperDeathIsReported) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "orphan", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = pid_of("orphan");
  pids_.push_back(pid);
  pid_t keeper = d_.keeper_pid();
  ASSERT_GT(keeper, 0);
  ASSERT_TRUE(d_.kill_keeper());
  EXPECT_TRUE(eventually([&] { return d_.log().find("the keeper (pid " + std::to_string(keeper) + ") is gone") != std::string::npos; }))
      << d_.log();
  // Its container died with it, and berthd recorded the exit.
  EXPECT_TRUE(eventually([&] { return inspect("orphan")["State"]["Status"] == "exited"; }));
  EXPECT_EQ(inspect("orphan")["State"]["ExitCode"], 137);
  Json info = Json::parse(d_.client().request("GET", "/info")->body);
  EXPECT_EQ(info["BerthKeeper"]["Losses"], 1);
  EXPECT_THAT(info["Warnings"].dump(), HasSubstr("keeper died"));
  // A new keeper serves new containers.
  EXPECT_TRUE(eventually([&] {
    pid_t k = d_.keeper_pid();
    return k > 0 && k != keeper;
  })) << d_.log();
  auto fresh = d_.ctl({"run", "--rm", "--network", "none", "busybox", "echo", "after"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(fresh.out, "after\n");
  stop_clean();
}

TEST_F(KeeperTest, WithoutKeeperContainersAreLost) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "lost", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = pid_of("lost");
  pids_.push_back(pid);
  d_.crash();   // berthd and the keeper: as after a reboot
  ASSERT_TRUE(eventually([&] { return !alive(pid); }));
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  Json j = inspect("lost");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 255);
  EXPECT_THAT(j["State"]["Error"].get<std::string>(), HasSubstr("stopped unexpectedly"));
  stop_clean();
}

// A berthd restarted with hundreds of kept containers gets their
// descriptors back from the keeper before it serves; past 1023 of them, a
// library that waits with select() aborts the daemon (FD_SETSIZE).
// libnftables does, on its netlink socket: its context is made first of
// all, so the restart comes up and nftables still works (a network made
// and removed, a container with a published port). Tty containers: their
// pumps never park (log_pump.h), so each keeps two descriptors (the pty
// master and its copy for resizes) and berthd really holds over 1024.
TEST_F(KeeperTest, RestartWithHundredsOfKeptContainersServes) {
  constexpr int kContainers = 540;
  ipc::Client c = d_.client();
  const std::string body =
      R"({"Image":"busybox","Cmd":["sleep","1000"],"Tty":true,"HostConfig":{"NetworkMode":"none"}})";
  std::vector<std::string> ids;
  for (int i = 0; i < kContainers; i++) {
    auto cr = c.request("POST", "/containers/create", body, "application/json");
    ASSERT_TRUE(cr && cr->status == 201) << (cr ? cr->body : cr.error().message());
    std::string id = Json::parse(cr->body)["Id"];
    auto st = c.request("POST", "/containers/" + id + "/start");
    ASSERT_TRUE(st && st->status == 204) << (st ? st->body : st.error().message());
    ids.push_back(id);
  }
  d_.crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  EXPECT_GT(d_.open_fds(), 1024) << "the restart did not reach the condition under test";
  auto ps = d_.ctl({"ps", "-q", "--no-trunc"});
  ASSERT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(std::count(ps.out.begin(), ps.out.end(), '\n'), kContainers);
  auto net = d_.ctl({"network", "create", "--subnet", "10.211.0.0/24", "after"});
  EXPECT_EQ(net.exit_code, 0) << net.err;
  EXPECT_EQ(d_.ctl({"network", "rm", "after"}).exit_code, 0);
  auto run = d_.ctl({"run", "--rm", "-p", "127.0.0.1::80", "busybox", "echo", "published"});
  EXPECT_EQ(run.out, "published\n") << run.err;
  EXPECT_THAT(d_.log(), ::testing::Not(HasSubstr("FD_SETSIZE")));
  for (const auto& id : ids) pids_.push_back(pid_of(id));
  stop_clean();
}

// At start, berthd reads its containers' state files on several threads
// (container_load.cc): with more than a few hundred, each is still taken
// in, a state that cannot be read or decoded is skipped with its reason
// (and loses nothing else), and a re-adopted container's recorded start
// time is its own: a signal needs it (runtime::open_pidfd checks it
// against /proc), so `kill` after the restart proves it.
TEST_F(KeeperTest, HundredsOfStatesAreReadAtStartAndABadOneIsSkipped) {
  constexpr int kCreated = 600;
  ipc::Client c = d_.client();
  for (int i = 0; i < kCreated; i++) {
    auto cr = c.request("POST", "/containers/create?name=s" + std::to_string(i),
                        R"({"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}})", "application/json");
    ASSERT_TRUE(cr && cr->status == 201) << (cr ? cr->body : cr.error().message());
  }
  auto run = d_.ctl({"run", "-d", "--name", "kept", "--network", "none", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  pid_t pid = pid_of("kept");
  ASSERT_GT(pid, 0);
  pids_.push_back(pid);
  d_.crash_daemon_only();
  const std::string bad(64, 'b'), none(64, 'c');
  std::filesystem::create_directories(d_.root() + "/containers/" + bad);
  std::filesystem::create_directories(d_.root() + "/containers/" + none);
  {
    std::FILE* f = std::fopen((d_.root() + "/containers/" + bad + "/config.v2.json").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("{\"id\": \"cut off", f);
    std::fclose(f);
  }
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  auto ps = d_.client().request("GET", "/containers/json?all=1");
  ASSERT_TRUE(ps && ps->status == 200) << (ps ? ps->body : ps.error().message());
  std::set<std::string> names;
  for (const Json& e : Json::parse(ps->body)) names.insert(e["Names"][0].get<std::string>());
  EXPECT_EQ(names.size(), size_t(kCreated + 1));
  for (int i = 0; i < kCreated; i++) EXPECT_EQ(names.count("/s" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(names.count("/kept"), 1u);
  EXPECT_THAT(d_.log(), HasSubstr("skip container with bad state id=" + bad));
  EXPECT_THAT(d_.log(), HasSubstr("skip container without state id=" + none));
  EXPECT_EQ(pid_of("kept"), pid);
  // Not SIGKILL: that one goes to the whole cgroup, without the pidfd.
  auto usr1 = d_.ctl({"kill", "-s", "USR1", "kept"});
  EXPECT_EQ(usr1.exit_code, 0) << usr1.err;
  (void)d_.ctl({"kill", "kept"});   // if USR1 did not end it
  auto wait = d_.ctl({"wait", "kept"});
  EXPECT_THAT(wait.out, ::testing::AnyOf("137\n", "138\n")) << wait.err;
  EXPECT_TRUE(eventually([&] { return !alive(pid); }));
  std::filesystem::remove_all(d_.root() + "/containers/" + bad);
  std::filesystem::remove_all(d_.root() + "/containers/" + none);
  stop_clean();
}

// A re-adopted container's health check goes on: its last status comes
// back with it (saved at each change), and probes run again, so a change
// after the restart is seen.
TEST_F(KeeperTest, HealthChecksGoOnAfterARestart) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "probed", "--health-cmd", "cat /ok",
                   "--health-interval", "100ms", "--health-retries", "2", "busybox", "sh", "-c",
                   "echo fine > /ok; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pids_.push_back(pid_of("probed"));
  ASSERT_TRUE(eventually([&] { return inspect("probed")["State"]["Health"]["Status"] == "healthy"; }));
  d_.crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  Json j = inspect("probed");
  EXPECT_EQ(j["State"]["Status"], "running");
  EXPECT_EQ(j["State"]["Health"]["Status"], "healthy") << j["State"].dump();
  EXPECT_FALSE(j["State"]["Health"]["Log"].empty());
  ASSERT_EQ(d_.ctl({"exec", "probed", "rm", "/ok"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return inspect("probed")["State"]["Health"]["Status"] == "unhealthy"; }))
      << inspect("probed")["State"].dump();
  stop_clean();
}

// A re-adopted container with a memory limit is watched for OOM kills
// again: an OOM after the restart is its exit's cause and an oom event.
TEST_F(KeeperTest, OomAfterARestartIsReported) {
  auto r = d_.ctl({"run", "-d", "--network", "none", "--name", "oomer", "-m", "32m", "busybox", "sh", "-c",
                   "while [ ! -e /go ]; do usleep 20000; done; x=$(head -c 67108864 /dev/zero | tr '\\0' a)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pids_.push_back(pid_of("oomer"));
  d_.crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  ASSERT_EQ(inspect("oomer")["State"]["Status"], "running");
  (void)d_.ctl({"exec", "oomer", "touch", "/go"});
  EXPECT_EQ(d_.ctl({"wait", "oomer"}).out, "137\n");
  Json j = inspect("oomer");
  EXPECT_EQ(j["State"]["OOMKilled"], true) << j["State"].dump();
  auto c = d_.client();
  auto got = c.request("GET", "/events?since=0&until=" + std::to_string(now_ns() / 1000000000 + 1) +
                                  "&filters=%7B%22event%22%3A%5B%22oom%22%5D%7D");
  ASSERT_TRUE(got && got->status == 200);
  EXPECT_THAT(got->body, HasSubstr("\"Action\":\"oom\""));
  stop_clean();
}

// A created container holds a warm init it adopted, waiting for a start.
// After a crash no berthd will release that init (the container comes
// back as created and starts cold): the restart has the keeper kill it.
// (Inits of starts cut short by the crash, which tools/chaos found left
// over, are killed by Engine::drop_unclaimed; their window is too short
// to hit here on purpose.)
TEST_F(KeeperTest, AWarmInitACreatedContainerHeldIsKilledAtRestart) {
  ASSERT_EQ(d_.ctl({"run", "--rm", "--network", "none", "busybox", "true"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return d_.wait_warm_quiet() && !d_.warm_inits().empty(); }));
  auto warm = d_.warm_inits();
  auto r = d_.ctl({"create", "--network", "none", "--name", "held", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  ASSERT_TRUE(warm.count(id)) << "the container did not take a warm init";
  pid_t init = warm[id];
  ASSERT_TRUE(alive(init));
  pids_.push_back(init);
  d_.crash_daemon_only();
  std::string err;
  ASSERT_TRUE(d_.start(&err)) << err;
  EXPECT_TRUE(eventually([&] { return !alive(init); })) << "init " << init << " left waiting";
  EXPECT_EQ(inspect("held")["State"]["Status"], "created");
  // It starts (cold) as any created container.
  ASSERT_EQ(d_.ctl({"start", "held"}).exit_code, 0);
  EXPECT_EQ(inspect("held")["State"]["Status"], "running");
  pids_.push_back(pid_of("held"));
  stop_clean();
}

TEST_F(KeeperTest, LiveRestoreLeavesContainersRunning) {
  // This fixture's daemon runs with --no-live-restore: another one with.
  TestDaemon d;
  d.set_live_restore(true);
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto r = d.ctl({"run", "-d", "--network", "none", "--name", "stays", "busybox", "sh", "-c",
                  "echo one; while :; do sleep 1; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(d.client().request("GET", "/containers/stays/json")->body);
  pid_t pid = j["State"]["Pid"];
  EXPECT_EQ(d.stop(), 0);
  EXPECT_TRUE(alive(pid));
  ASSERT_TRUE(d.start(&err)) << err;
  j = Json::parse(d.client().request("GET", "/containers/stays/json")->body);
  EXPECT_EQ(j["State"]["Status"], "running");
  EXPECT_EQ(j["State"]["Pid"], pid);
  EXPECT_EQ(d.ctl({"logs", "stays"}).out, "one\n");
  EXPECT_EQ(d.ctl({"kill", "stays"}).exit_code, 0);
  EXPECT_EQ(d.ctl({"wait", "stays"}).out, "137\n");
  EXPECT_EQ(d.stop(), 0);
  EXPECT_TRUE(d.kill_keeper());
  EXPECT_FALSE(alive(pid));
}

}  // namespace
}  // namespace berth::test
