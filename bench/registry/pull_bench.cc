// berth-bench-pull: pulls a 5-layer image of about 200 MiB (gzip layers)
// from a local docker-registry with berth (download, verify and unpack
// into a fresh ImageStore), with `skopeo copy docker://... oci:DIR` (download
// and verify, no unpacking) and with a plain `curl` of the blobs (the floor),
// alternating, in one run. Prints each run and the medians.
//
//   berth-bench-pull [--runs N] [--layer-mib N] [--synthetic] [--trace]
//
// Content: by default real files (the shared libraries under
// /usr/lib/x86_64-linux-gnu, taken in name order), --layer-mib of them per
// layer unpacked (default 40: an image `docker images` shows at 200 MB);
// --synthetic: 1 MiB files of 16 symbols (gzip halves them; every byte a
// literal, inflate's slowest case).
//
// Root: it runs in a network namespace of its own (loopback only) and
// starts the registry there, in a temp dir it removes at the end.
#include <dirent.h>
#include <net/if.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "tools/testkit/registry/registry.h"

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

// Regular files under `dir` in name order (recursive), up to `bytes` in all.
void collect_files(const std::string& dir, int64_t* left, std::vector<std::string>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    if (*left <= 0) return;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      collect_files(p, left, out);
    } else if (S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size <= *left) {
      out->push_back(p);
      *left -= st.st_size;
    }
  }
}

// CPU seconds (user + system) used so far by this process or by its
// waited-for children.
double cpu_seconds(int who) {
  rusage ru;
  ::getrusage(who, &ru);
  auto sec = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5, layer_mib = 40;
  std::string perf_out;  // --perf FILE: perf record of berth's pulls only, FILE.<run>
  bool synthetic = false;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--layer-mib") && i + 1 < argc) layer_mib = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--synthetic")) synthetic = true;
    else if (!std::strcmp(argv[i], "--trace")) log::set_level(log::Level::kDebug);  // the pull's steps, timed
    else if (!std::strcmp(argv[i], "--perf") && i + 1 < argc) perf_out = argv[++i];
    else return std::fprintf(stderr, "usage: berth-bench-pull [--runs N] [--layer-mib N] [--synthetic] [--trace] [--perf FILE]\n"), 2;
  }
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
  std::vector<std::string> real_files;
  if (!synthetic) {
    int64_t left = 5ll * layer_mib << 20;
    collect_files("/usr/lib/x86_64-linux-gnu", &left, &real_files);
  }
  size_t next_file = 0;
  int64_t unpacked = 0;
  for (int l = 0; l < 5; l++) {
    std::string top = "layer" + std::to_string(l);
    std::vector<std::pair<std::string, std::string>> entries{{top + "/", ""}};
    for (int64_t size = 0; size < (int64_t{layer_mib} << 20);) {
      std::string data;
      if (synthetic) {
        data = file_content(l * 1000 + entries.size());
      } else {
        if (next_file == real_files.size()) break;
        data = read_file(real_files[next_file], 1 << 30).value();
      }
      entries.push_back({top + "/f" + std::to_string(next_file++), data});
      size += static_cast<int64_t>(data.size());
      unpacked += static_cast<int64_t>(data.size());
    }
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
  std::printf("image: 5 gzip layers of %s, %.1f MiB compressed, %.1f MiB unpacked, %zu files\n",
              synthetic ? "synthetic 1 MiB files" : "files from /usr/lib/x86_64-linux-gnu", compressed / 1048576.0,
              unpacked / 1048576.0, next_file);

  TempDir work;
  std::vector<double> t_berth, t_skopeo, t_curl, c_berth, c_skopeo, c_curl;
  std::string ref = reg.host() + "/bench:v1";
  for (int r = 0; r < runs; r++) {
    std::string dir = work / ("run" + std::to_string(r));
    {  // berth: download, verify, unpack, publish
      pid_t perf = -1;
      if (!perf_out.empty()) {
        perf = ::fork();
        if (perf == 0) {
          std::string self = std::to_string(::getppid());
          std::string out = perf_out + "." + std::to_string(r + 1);
          ::execlp("perf", "perf", "record", "-q", "-g", "-F", "1999", "-o", out.c_str(), "-p", self.c_str(),
                   nullptr);
          ::_exit(127);
        }
        ::sleep(1);  // perf attaches
      }
      auto t0 = Clock::now();
      double c0 = cpu_seconds(RUSAGE_SELF);
      auto store = fs::ImageStore::open(dir + "-berth").value();
      fs::registry::PullOptions o;
      o.reference = ref;
      auto p = fs::registry::pull(*store, nullptr, o, nullptr, nullptr);
      t_berth.push_back(seconds_since(t0));
      c_berth.push_back(cpu_seconds(RUSAGE_SELF) - c0);
      if (perf > 0) {
        ::kill(perf, SIGINT);
        ::waitpid(perf, nullptr, 0);
      }
      if (!p) return std::fprintf(stderr, "berth pull: %s\n", p.error().message().c_str()), 1;
    }
    {  // skopeo: download and verify into an OCI layout
      auto t0 = Clock::now();
      double c0 = cpu_seconds(RUSAGE_CHILDREN);
      std::string out;
      int rc = run_for_status({"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref,
                            "oci:" + dir + "-skopeo:v1"}, &out);
      t_skopeo.push_back(seconds_since(t0));
      c_skopeo.push_back(cpu_seconds(RUSAGE_CHILDREN) - c0);
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
      double c0 = cpu_seconds(RUSAGE_CHILDREN);
      std::string out;
      int rc = run_for_status(argv, &out);
      t_curl.push_back(seconds_since(t0));
      c_curl.push_back(cpu_seconds(RUSAGE_CHILDREN) - c0);
      if (rc != 0) return std::fprintf(stderr, "curl: %s\n", out.c_str()), 1;
    }
    std::printf("run %d: berth %.3f s (cpu %.3f), skopeo %.3f s (cpu %.3f), curl %.3f s (cpu %.3f), berth/skopeo %.2f\n",
                r + 1, t_berth.back(), c_berth.back(), t_skopeo.back(), c_skopeo.back(), t_curl.back(), c_curl.back(),
                t_berth.back() / t_skopeo.back());
    for (const char* s : {"-berth", "-skopeo", "-curl"}) (void)remove_tree(dir + s);
  }
  std::printf("median of %d: berth %.3f s, skopeo %.3f s, curl %.3f s; berth/skopeo %.2f, berth/curl %.2f\n", runs,
              median(t_berth), median(t_skopeo), median(t_curl), median(t_berth) / median(t_skopeo),
              median(t_berth) / median(t_curl));
  std::printf("median cpu: berth %.3f s, skopeo %.3f s, curl %.3f s (registry excluded)\n", median(c_berth),
              median(c_skopeo), median(c_curl));
  return 0;
}
