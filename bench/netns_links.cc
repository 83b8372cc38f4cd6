// berth-bench-links: the cost of a container's veth (create + configure)
// and of its removal, batched and one at a time, with netns/'s
// BridgeNetwork. Runs as root entirely inside network namespaces it makes
// (one for the bridge, one per container); touches nothing of the host's.
//
//   build/bin/berth-bench-links [--count N] [--batch B]...
//
// Prints, per batch size, ms per veth for attach and detach.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/base/unique_fd.h"
#include "netns/link.h"

using namespace berth;

namespace {

unique_fd make_netns() {
  unique_fd out;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) == 0) out.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  return out;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

int run(int count, int batch) {
  unique_fd host = make_netns();
  if (!host) {
    std::fprintf(stderr, "unshare: %s (run as root)\n", std::strerror(errno));
    return 77;
  }
  netns::BridgeOptions o;
  o.name = "bb0";
  o.gateway = netns::Cidr{*netns::parse_ip4("10.77.0.1"), 16};
  o.netns_fd = host.get();
  auto net = netns::BridgeNetwork::open(o);
  if (!net) {
    std::fprintf(stderr, "%s\n", net.error().message().c_str());
    return 1;
  }
  std::vector<unique_fd> ns;
  std::vector<netns::Attachment> reqs(count);
  for (int i = 0; i < count; i++) {
    ns.push_back(make_netns());
    reqs[i].netns_fd = ns.back().get();
    reqs[i].host_name = "vethb" + std::to_string(i);
    reqs[i].ip = netns::Ip4{netns::parse_ip4("10.77.1.0")->value + uint32_t(i)};
  }
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < count; i += batch) {
    size_t n = size_t(std::min(batch, count - i));
    for (auto& r : (*net)->attach(std::span<const netns::Attachment>(reqs).subspan(i, n)))
      if (!r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 1;
      }
  }
  double attach_ms = ms_since(t);
  std::vector<netns::Detachment> dets;
  for (auto& r : reqs) dets.push_back({r.host_name, r.ip});
  t = std::chrono::steady_clock::now();
  for (int i = 0; i < count; i += batch) {
    size_t n = size_t(std::min(batch, count - i));
    if (auto d = (*net)->detach(std::span<const netns::Detachment>(dets).subspan(i, n)); !d) {
      std::fprintf(stderr, "%s\n", d.error().message().c_str());
      return 1;
    }
  }
  double detach_ms = ms_since(t);
  (void)(*net)->destroy();
  std::printf("veths %5d  batch %4d  attach %7.3f ms/veth  detach %7.3f ms/veth\n", count, batch,
              attach_ms / count, detach_ms / count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 500;
  std::vector<int> batches;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--count") && i + 1 < argc) count = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) batches.push_back(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--count N] [--batch B]...\n", argv[0]);
      return 2;
    }
  }
  if (batches.empty()) batches = {1, 10, 100};
  for (int b : batches)
    if (int rc = run(count, b)) return rc;
  return 0;
}
