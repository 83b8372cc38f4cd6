// berth-bench-pull: pulls a 5-layer image of about 200 MiB (gzip layers)
// from a local docker-registry with berth (download, verify and unpack
// into a fresh ImageStore), with `skopeo copy docker://... oci:DIR` (download
// and verify, no unpacking) and with a plain `curl` of the blobs (the floor),
// alternating, in one run. Prints each run and the medians.
//
//   berth-bench-pull [--runs N] [--files-per-layer N]
//
// Root: it runs in a network namespace of its own (loopback only) and
// starts the registry there, in a temp dir it removes at the end.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "core/base/file.h"
#include "core/base/log.h"
#include "fs/image_store.h"
#include "fs/registry/pull.h"
#include "tests/registry/registry_fixture.h"

using namespace berth;
using namespace berth::test;
using Clock = std::chrono::steady_clock;

namespace {

bool loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP;
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  ::close(s);
  return ok;
}

// 1 MiB files of 16 symbols (4 bits of entropy a byte): gzip halves them,
// about what real binaries and libraries give.
std::string file_content(uint64_t seed) {
  std::string out(1 << 20, '\0');
  uint64_t x = seed * 2654435761u + 88172645463325252ull;
  for (size_t i = 0; i < out.size(); i += 16) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    for (size_t k = 0; k < 16; k++) out[i + k] = static_cast<char>('a' + ((x >> (k * 4)) & 15));
  }
  return out;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5, files = 72;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--files-per-layer")) files = std::atoi(argv[i + 1]);
  }
  for (int i = 1; i < argc; i++)
    if (!std::strcmp(argv[i], "--trace")) log::set_level(log::Level::kDebug);  // the pull's steps, timed
  if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0 || !loopback_up()) {
    std::fprintf(stderr, "berth-bench-pull: needs root (a network namespace of its own)\n");
    return 77;
  }
  TestRegistry reg({});
  std::string err;
  if (!reg.start(&err)) {
    std::fprintf(stderr, "berth-bench-pull: %s\n", err.c_str());
    return 1;
  }
  std::vector<Blob> layers;
  std::vector<std::string> diff_ids;
  int64_t compressed = 0;
  for (int l = 0; l < 5; l++) {
    std::vector<std::pair<std::string, std::string>> entries{{"layer" + std::to_string(l) + "/", ""}};
    for (int f = 0; f < files; f++)
      entries.push_back({"layer" + std::to_string(l) + "/f" + std::to_string(f), file_content(l * 1000 + f)});
    std::string diff_id;
    layers.push_back(make_layer(entries, fs::Compression::kGzip, &diff_id));
    diff_ids.push_back(diff_id);
    compressed += static_cast<int64_t>(layers.back().data.size());
  }
  Blob config = make_config("amd64", diff_ids);
  for (const Blob& b : layers)
    if (!put_blob(reg.url(), "bench", b, &err)) return std::fprintf(stderr, "%s\n", err.c_str()), 1;
  Blob manifest = make_manifest(config, layers, true);
  if (!put_blob(reg.url(), "bench", config, &err) || !put_manifest(reg.url(), "bench", "v1", manifest, &err))
    return std::fprintf(stderr, "%s\n", err.c_str()), 1;
  std::printf("image: 5 gzip layers, %.1f MiB compressed, %.1f MiB unpacked (%d files of 1 MiB)\n",
              compressed / 1048576.0, 5.0 * files, 5 * files);

  TempDir work;
  std::vector<double> t_berth, t_skopeo, t_curl;
  std::string ref = reg.host() + "/bench:v1";
  for (int r = 0; r < runs; r++) {
    std::string dir = work / ("run" + std::to_string(r));
    {  // berth: download, verify, unpack, publish
      auto t0 = Clock::now();
      auto store = fs::ImageStore::open(dir + "-berth").value();
      fs::registry::PullOptions o;
      o.reference = ref;
      auto p = fs::registry::pull(*store, nullptr, o, nullptr, nullptr);
      t_berth.push_back(seconds_since(t0));
      if (!p) return std::fprintf(stderr, "berth pull: %s\n", p.error().message().c_str()), 1;
    }
    {  // skopeo: download and verify into an OCI layout
      auto t0 = Clock::now();
      std::string out;
      int rc = run_command({"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref,
                            "oci:" + dir + "-skopeo:v1"}, &out);
      t_skopeo.push_back(seconds_since(t0));
      if (rc != 0) return std::fprintf(stderr, "skopeo: %s\n", out.c_str()), 1;
    }
    {  // curl: the blobs to files, 3 at once (berth's parallelism), nothing checked
      std::vector<std::string> argv{"curl", "-sf", "-Z", "--parallel-max", "3"};
      (void)make_dirs(dir + "-curl");
      for (const Blob& b : layers) {
        argv.push_back("-o");
        argv.push_back(dir + "-curl/" + b.digest.substr(7));
        argv.push_back(reg.url() + "/v2/bench/blobs/" + b.digest);
      }
      auto t0 = Clock::now();
      std::string out;
      int rc = run_command(argv, &out);
      t_curl.push_back(seconds_since(t0));
      if (rc != 0) return std::fprintf(stderr, "curl: %s\n", out.c_str()), 1;
    }
    std::printf("run %d: berth %.3f s, skopeo %.3f s, curl %.3f s, berth/skopeo %.2f\n", r + 1, t_berth.back(),
                t_skopeo.back(), t_curl.back(), t_berth.back() / t_skopeo.back());
    for (const char* s : {"-berth", "-skopeo", "-curl"}) (void)remove_tree(dir + s);
  }
  std::printf("median of %d: berth %.3f s, skopeo %.3f s, curl %.3f s; berth/skopeo %.2f, berth/curl %.2f\n", runs,
              median(t_berth), median(t_skopeo), median(t_curl), median(t_berth) / median(t_skopeo),
              median(t_berth) / median(t_curl));
  return 0;
}
