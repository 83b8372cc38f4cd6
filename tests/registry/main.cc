// The registry tests' main: before gtest starts any thread, the process
// moves into a network namespace of its own with only loopback up, so the
// registries the tests start and every connection stay inside it, and into
// a mount namespace of its own (private), so the small tmpfs of the
// disk-full test goes away with the process.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "tools/testkit/registry/registry.h"

namespace berth::test {

static bool g_netns = false;
static bool g_mountns = false;

bool have_private_netns() { return g_netns; }
bool have_private_mountns() { return g_mountns; }

static bool loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP;
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  ::close(s);
  return ok;
}

}  // namespace berth::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (::geteuid() == 0 && ::unshare(CLONE_NEWNET) == 0) berth::test::g_netns = berth::test::loopback_up();
  if (::geteuid() == 0 && ::unshare(CLONE_NEWNS) == 0)
    berth::test::g_mountns = ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  return RUN_ALL_TESTS();
}
