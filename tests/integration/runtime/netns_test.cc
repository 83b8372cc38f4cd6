// Pre-made network namespaces (netns.h) and containers that join them
// (Spec::netns_fd). Needs root; skips otherwise. Namespaces made here die
// with their fds at the end of each test; the containers use the SpawnTest
// fixture (spawn_fixture.h), which checks that no mount is left behind.
#include "netns/netns.h"

#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <thread>

#include "tests/integration/runtime/spawn_fixture.h"

namespace berth::runtime {
namespace {

using namespace spawn_testing;  // NOLINT(build/namespaces): the fixture and its helpers

// "net:[4026531840]": the calling thread's netns, as readlink shows it.
std::string thread_netns() {
  std::error_code ec;
  auto link = stdfs::read_symlink("/proc/thread-self/ns/net", ec);
  return ec ? "<" + ec.message() + ">" : link.string();
}

// The same name for a namespace fd.
std::string netns_name(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return "<fstat failed>";
  return fmt::format("net:[{}]", st.st_ino);
}

struct NetView {
  std::vector<std::string> names;  // interfaces
  int lo_flags = -1;
  bool joined = false;
};

// What a thread that joins `fd` sees. A fresh thread: setns moves only it,
// and it ends right after.
NetView look_inside(int fd) {
  NetView v;
  std::thread t([&] {
    if (::setns(fd, CLONE_NEWNET) < 0) return;
    v.joined = true;
    if (struct if_nameindex* all = ::if_nameindex()) {
      for (auto* i = all; i->if_index != 0; i++) v.names.push_back(i->if_name);
      ::if_freenameindex(all);
    }
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    if (s && ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) v.lo_flags = ifr.ifr_flags;
  });
  t.join();
  return v;
}

TEST(CreateNetns, OnlyLoUpAndTheCallingThreadMovesBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string main_before = thread_netns();
  std::string worker_before, worker_after;
  Result<unique_fd> a = Error(Code::kCancelled, "not run"), b = Error(Code::kCancelled, "not run");
  std::thread worker([&] {  // as on a job-pool thread
    worker_before = thread_netns();
    a = netns::create_netns();
    b = netns::create_netns();
    worker_after = thread_netns();
  });
  worker.join();
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(worker_after, worker_before);
  EXPECT_EQ(thread_netns(), main_before);
  EXPECT_NE(netns_name(a->get()), main_before);
  EXPECT_NE(netns_name(a->get()), netns_name(b->get()));
  EXPECT_EQ(::ioctl(a->get(), NS_GET_NSTYPE), CLONE_NEWNET);
  EXPECT_TRUE(::fcntl(a->get(), F_GETFD) & FD_CLOEXEC);

  NetView v = look_inside(a->get());
  ASSERT_TRUE(v.joined);
  EXPECT_EQ(v.names, std::vector<std::string>{"lo"});
  EXPECT_TRUE(v.lo_flags & IFF_UP) << v.lo_flags;
}

class PooledNetnsTest : public SpawnTest {
 protected:
  static unique_fd make_netns() {
    auto fd = netns::create_netns();
    EXPECT_TRUE(fd) << fd.error().message();
    return fd ? std::move(*fd) : unique_fd();
  }
};

TEST_F(PooledNetnsTest, OnlyLoAndItIsUpInTheGivenNamespace) {
  unique_fd ns = make_netns();
  ASSERT_TRUE(ns);
  spec_.netns_fd = ns.get();
  Outcome o = sh("ls /sys/class/net; cat /sys/class/net/lo/flags; readlink /proc/self/ns/net");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "lo\n0x9\n" + netns_name(ns.get()) + "\n");  // IFF_UP | IFF_LOOPBACK
}

TEST_F(PooledNetnsTest, TheNamespaceFdDoesNotReachTheContainer) {
  unique_fd ns = make_netns();
  ASSERT_TRUE(ns);
  spec_.netns_fd = ns.get();
  Outcome o = sh("ls /proc/self/fd");
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "0\n1\n2\n3\n");  // 3 is ls's own directory fd
  if (have_testinit()) {
    Spec s = spec_;
    s.args = {"berth-testinit", "fds"};
    o = run(s);
    EXPECT_RAN(o);
    EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 3) << o.out;
    EXPECT_EQ(o.out.find("net:["), std::string::npos) << o.out;
  }
}

TEST_F(PooledNetnsTest, EachContainerIsInItsOwnNamespace) {
  unique_fd ns[2] = {make_netns(), make_netns()};
  ASSERT_TRUE(ns[0] && ns[1]);
  std::string seen[2];
  for (int i = 0; i < 2; i++) {
    Spec s = container_spec(fmt::format("c{}", i));
    s.netns_fd = ns[i].get();
    s.args = {"readlink", "/proc/self/ns/net"};
    Outcome o = run(s);
    EXPECT_RAN(o);
    seen[i] = o.out;
    EXPECT_EQ(seen[i], netns_name(ns[i].get()) + "\n");
  }
  EXPECT_NE(seen[0], seen[1]);
  for (const auto& s : seen) EXPECT_NE(s, thread_netns() + "\n");
}

// Between spawn() and release() the child already is in its namespace, as
// with CLONE_NEWNET: the engine's network setup finds it there by pid.
TEST_F(PooledNetnsTest, JoinedBeforeRelease) {
  unique_fd ns = make_netns();
  ASSERT_TRUE(ns);
  spec_.netns_fd = ns.get();
  spec_.args = {"true"};
  std::string seen;
  Outcome o = run(spec_, nullptr, [&](const Process& p) {
    // The child joins right after clone3; give it a moment, then look.
    for (int i = 0; i < 200 && seen != netns_name(ns.get()); i++) {
      std::error_code ec;
      seen = stdfs::read_symlink(fmt::format("/proc/{}/ns/net", p.pid), ec).string();
      if (seen != netns_name(ns.get())) ::usleep(1000);
    }
  });
  EXPECT_RAN(o);
  EXPECT_EQ(seen, netns_name(ns.get()));
}

}  // namespace
}  // namespace berth::runtime
