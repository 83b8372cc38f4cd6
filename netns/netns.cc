// create_netns(): unshare on the calling thread, keep an fd, bring lo up,
// setns back. See netns.h for the threading contract.
#include "netns/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"

namespace berth::netns {

namespace {

// /proc/thread-self, not /proc/self: the namespace of THIS thread (Linux
// 3.17), which differs from the main thread's while we are inside.
constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

// IFF_UP on lo, through a throwaway socket of the calling thread's netns.
Result<void> loopback_up() {
  unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::sys(errno, "socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return Error::sys(errno, "get flags of lo");
  ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) return Error::sys(errno, "set lo up");
  return ok();
}

// Runs inside the new namespace: its fd, and lo up. A socket belongs to the
// netns it was created in, so loopback_up() must run before we go back.
Result<unique_fd> open_and_bring_up_lo() {
  unique_fd ns = BERTH_TRY(open_fd(kThreadNetns, O_RDONLY));
  BERTH_TRY_VOID(loopback_up());
  return ns;
}

}  // namespace

Result<unique_fd> create_netns() {
  unique_fd back = BERTH_TRY_CTX(open_fd(kThreadNetns, O_RDONLY), "create network namespace");
  if (::unshare(CLONE_NEWNET) < 0) return Error::sys(errno, "create network namespace: unshare");
  Result<unique_fd> ns = open_and_bring_up_lo();
  // Back on every path. A failure here would leave this worker in the new
  // namespace for every later job (netlink, sockets): a broken invariant,
  // not an error to hand up (setns(2) on an fd we just opened only fails on
  // ENOMEM-class conditions).
  int rc = ::setns(back.get(), CLONE_NEWNET);
  BERTH_ASSERT_MSG(rc == 0, "create_netns: cannot move the thread back to its network namespace");
  if (!ns) return std::move(ns.error()).context("create network namespace");
  return ns;
}

}  // namespace berth::netns
