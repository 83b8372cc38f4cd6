#include "tests/integration/netns_util.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <thread>

#include "core/base/assert.h"
#include "netns/enter.h"

namespace berth::test {

bool is_root() { return ::geteuid() == 0; }

unique_fd make_netns() {
  unique_fd out;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) < 0) return;
    out.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ::ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
    ::close(s);
  });
  t.join();
  BERTH_ASSERT_MSG(out, "make_netns: unshare failed");
  return out;
}

std::set<std::string> link_names(int netns_fd) {
  std::set<std::string> out;
  std::thread t([&] {
    auto g = netns::NetnsGuard::enter(netns_fd);
    if (!g) return;
    struct if_nameindex* names = ::if_nameindex();
    for (struct if_nameindex* p = names; p && p->if_index; p++) out.insert(p->if_name);
    if (names) ::if_freenameindex(names);
  });
  t.join();
  return out;
}

std::vector<std::string> addresses_of(int netns_fd, const std::string& ifname) {
  std::string out;
  int rc = run_in_netns(netns_fd, {"/bin/busybox", "ip", "-4", "-o", "addr", "show", "dev", ifname}, &out);
  std::vector<std::string> addrs;
  if (rc != 0) return addrs;
  size_t at = 0;
  while ((at = out.find("inet ", at)) != std::string::npos) {
    at += 5;
    size_t end = out.find(' ', at);
    addrs.push_back(out.substr(at, end - at));
  }
  return addrs;
}

sockaddr_in sockaddr_of(netns::Ip4 ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr = netns::to_in_addr(ip);
  return sa;
}

unique_fd udp_bound(int netns_fd, netns::Ip4 ip, uint16_t port) {
  auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_DGRAM, 0);
  BERTH_ASSERT(fd);
  int one = 1;
  ::setsockopt(fd->get(), SOL_IP, IP_FREEBIND, &one, sizeof one);
  sockaddr_in sa = sockaddr_of(ip, port);
  BERTH_ASSERT(::bind(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  return std::move(*fd);
}

std::string udp_ask(int netns_fd, netns::Ip4 ip, uint16_t port, const std::string& payload, int wait_ms) {
  auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_DGRAM, 0);
  if (!fd) return "";
  sockaddr_in sa = sockaddr_of(ip, port);
  if (::sendto(fd->get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return "";
  pollfd p{fd->get(), POLLIN, 0};
  if (::poll(&p, 1, wait_ms) != 1) return "";
  char buf[2048];
  ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

int udp_echo_pending(int fd, int wait_ms) {
  int answered = 0;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, answered ? 0 : wait_ms) == 1) {
    char buf[2048];
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) break;
    ::sendto(fd, buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    answered++;
  }
  return answered;
}

unique_fd tcp_listen(int netns_fd, netns::Ip4 ip, uint16_t port) {
  auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_STREAM, 0);
  BERTH_ASSERT(fd);
  int one = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = sockaddr_of(ip, port);
  BERTH_ASSERT(::bind(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  BERTH_ASSERT(::listen(fd->get(), 64) == 0);
  return std::move(*fd);
}

unique_fd tcp_connect(int netns_fd, netns::Ip4 ip, uint16_t port, int wait_ms) {
  auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (!fd) return {};
  sockaddr_in sa = sockaddr_of(ip, port);
  if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS) return {};
  pollfd p{fd->get(), POLLOUT, 0};
  if (::poll(&p, 1, wait_ms) != 1) return {};
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return {};
  int flags = ::fcntl(fd->get(), F_GETFL);
  ::fcntl(fd->get(), F_SETFL, flags & ~O_NONBLOCK);
  return std::move(*fd);
}

std::string tcp_accept_peer(int listen_fd, int wait_ms, unique_fd* conn) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) != 1) return "";
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  int c = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  if (c < 0) return "";
  if (conn) conn->reset(c);
  else ::close(c);
  return netns::to_string(netns::from_in_addr(peer.sin_addr));
}

std::string udp_echo_one(int fd, int wait_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) != 1) return "";
  char buf[2048];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return "";
  ::sendto(fd, buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  return netns::to_string(netns::from_in_addr(from.sin_addr));
}

int run_in_netns(int netns_fd, const std::vector<std::string>& argv, std::string* out) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return -1;
  std::vector<char*> args;  // built before fork: the child must not allocate
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(netns_fd, CLONE_NEWNET) < 0) ::_exit(126);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(pipefd[0]);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0) return -1;
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace berth::test
