// berth-bench: the macro benchmark harness. Drives a real berthd (its own
// temp root, socket and network namespace, like the integration tests) and
// reports:
//   start latency   `berthctl run --rm --network none busybox true`, client
//                   to exit to removal, p50/p99 over --runs runs; and the same
//                   busybox rootfs as an OCI bundle under `crun run`, measured
//                   in the same process for comparison
//   log throughput  a container writes --log-mib MiB to stdout in 64 KiB
//                   writes; time until `wait` returns (the log is complete
//                   then), with the stored log verified byte for byte; and a
//                   plain `cat` from a pipe into a file as the baseline
//   log lines       --log-lines N (default 10 M): 16-byte numbered lines in
//                   64 KiB writes (berth-testinit numbered), until `wait`
//                   returns, every line checked; the same writer into `cat`
//   linegen         --log-linegen N: N lines of 80 bytes from a fast line
//                   generator (berth-testinit linegen 80 N, 64 KiB writes),
//                   until the log holds every byte (and, apart, until `wait`
//                   returns), every byte checked; the same
//                   generator into `cat > file` (the pipe floor); the ratio,
//                   --rounds-linegen R times alternating (median reported)
//   tail latency    `logs --tail 10` on that log (1 GiB by default), through the API and
//                   through berthctl
//   stats cost      --stats N: N idle containers, each with a streaming
//                   `stats` client; the daemon's CPU time over a window,
//                   against the same N containers with nobody watching
//   storage         --storage N: create N containers from one image through
//                   the API (one connection), the disk each uses before any
//                   write (du of the containers dir, before and after), start
//                   them all (an overlay mount each), remove them; then commit
//                   a container that wrote a 100 MiB file
//   network         --network-runs N: start latency on the default bridge
//                   against --network none, alternating; --networked N: N
//                   detached containers started on the bridge, one by one
//   burst           --burst N [--burst-clients C] [--burst-rounds R]: N
//                   `run -d` (create + start of a sleeping container,
//                   --network none) from C clients at once (default 100),
//                   against N `crun run -d` one after another; R rounds
//                   alternating (default 2), each side's containers removed
//                   (untimed) before the other's turn
//   --berthd-arg F  one more flag for the berthd under test (repeatable),
//                   e.g. --berthd-arg --job-threads=4
// Usage: berth-bench [--runs N] [--log-mib M] [--log-lines N] [--no-crun] [--stats N] [--storage N]
//                    [--warm-inits N] [--network-runs N] [--networked N] [--log-linegen N] [--linegen-rounds R]
//                    [--burst N] [--burst-clients C] [--burst-rounds R] [--berthd-arg F]...
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/child_value.h"
#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/log_reader.h"
#include "tools/testkit/daemon.h"
#include "tools/testkit/numbered_lines.h"

using namespace berth;
using namespace berth::test;

namespace {

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// fork/exec/wait with stdio to /dev/null; returns the exit status.
int spawn_quiet(const std::vector<std::string>& argv) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct Latency {
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  int failures = 0;
};

Latency summarize(std::vector<double> ms, int failures) {
  Latency l;
  l.failures = failures;
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  l.p50_ms = ms[ms.size() / 2];
  l.p99_ms = ms[std::min(ms.size() - 1, size_t(ms.size() * 0.99))];
  for (double v : ms) l.mean_ms += v / ms.size();
  return l;
}

// One timed run: wall milliseconds, or a negative value if it failed.
double time_run(const std::vector<std::string>& argv) {
  double t0 = now_s();
  int rc = spawn_quiet(argv);
  double ms = (now_s() - t0) * 1000;
  return rc == 0 ? ms : -ms;
}

Latency measure(int runs, const std::function<std::vector<std::string>(int)>& argv_for) {
  std::vector<double> ms;
  int failures = 0;
  for (int i = 0; i < runs; i++) {
    double t = time_run(argv_for(i));
    failures += t < 0;
    ms.push_back(std::abs(t));
  }
  return summarize(std::move(ms), failures);
}

// crun's cgroups: under this process's memory cgroup (unified: its
// cgroup), as crun's default (/<id>) is at the root of every hierarchy.
// crun uses the one path in every v1 hierarchy; where this process sits at
// the root, that is under it too. The directories crun will have to make
// are noted first (main calls this before any child), so that
// remove_crun_cgroups() takes away just those.
struct CrunCgroups {
  std::string base;
  std::vector<std::string> made;   // deepest last
};

CrunCgroups& crun_cgroups() {
  static CrunCgroups c = [] {
    CrunCgroups x;
    std::string self = "/";
    if (auto text = read_file("/proc/self/cgroup")) {
      for (std::string_view line : split(*text, '\n')) {
        size_t a = line.find(':'), b = a == std::string_view::npos ? a : line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        std::string_view ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (ctrl == "memory" || (ctrl.empty() && self == "/")) self = std::string(path);
      }
    }
    if (self.empty() || self.back() != '/') self += '/';
    x.base = self + "berth-bench-crun-" + std::to_string(getpid());
    std::vector<std::string> hierarchies;
    for (const char* h : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd",
                          "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"}) {
      std::string dir = std::string("/sys/fs/cgroup/") + h;
      struct stat st;
      if (::stat((dir + "/cgroup.procs").c_str(), &st) == 0) hierarchies.push_back(dir);
    }
    for (const std::string& h : hierarchies) {
      std::string p;
      for (std::string_view part : split(x.base, '/')) {
        if (part.empty()) continue;
        p += "/" + std::string(part);
        struct stat st;
        if (::stat((h + p).c_str(), &st) != 0) x.made.push_back(h + p);
      }
    }
    return x;
  }();
  return c;
}

void remove_crun_cgroups() {
  const auto& made = crun_cgroups().made;
  for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
}

// A copy of the bundle's config with its own cgroup, for `crun run -f`.
bool write_crun_config(const std::string& bundle, const std::string& file, const std::string& cgroup) {
  auto text = read_file(bundle + "/config.json");
  if (!text) return false;
  auto j = nlohmann::json::parse(*text);
  j["linux"]["cgroupsPath"] = crun_cgroups().base + "/" + cgroup;
  return bool(write_file_atomic(file, j.dump(2)));
}

bool make_crun_bundle(const std::string& dir) {
  std::string rootfs = dir + "/rootfs";
  if (!make_dirs(rootfs)) return false;
  if (run_command({"tar", "-xf", BERTH_BUSYBOX_TAR, "-C", rootfs}).exit_code != 0) return false;
  if (run_command({"sh", "-c", "cd " + dir + " && crun spec"}).exit_code != 0) return false;
  auto text = read_file(dir + "/config.json");
  if (!text) return false;
  auto j = nlohmann::json::parse(*text);
  j["process"]["terminal"] = false;
  j["process"]["args"] = {"/bin/true"};
  j["root"]["path"] = "rootfs";
  // One run at a time (CrunRunner): each makes and removes this cgroup.
  j["linux"]["cgroupsPath"] = crun_cgroups().base + "/run";
  return bool(write_file_atomic(dir + "/config.json", j.dump(2)));
}

// crun refuses this machine's hybrid cgroup layout (v1 controllers plus a
// cgroup2 mount holding one), so it runs from a child process in a private
// mount namespace where the cgroup2 mount is gone and crun sees plain v1.
void enter_crun_mount_ns() {
  if (unshare(CLONE_NEWNS) == 0 && mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
    umount2("/sys/fs/cgroup/unified", MNT_DETACH);
}

// The helper runs one `crun run` per request on a pipe and answers with its
// time, so berth's and crun's runs alternate: this machine's speed drifts
// by a quarter within minutes, and both sides should see the same drift.
class CrunRunner {
 public:
  explicit CrunRunner(std::string bundle) : bundle_(std::move(bundle)) {}
  ~CrunRunner() {
    ask_.reset();
    answer_.reset();
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  bool start() {
    int ask[2], answer[2];
    if (pipe2(ask, O_CLOEXEC) < 0 || pipe2(answer, O_CLOEXEC) < 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      close(ask[1]);  // or the read below never sees EOF
      close(answer[0]);
      enter_crun_mount_ns();
      spawn_quiet({"crun", "run", "-b", bundle_, "berth-bench-warm"});
      char b;
      for (int i = 0; read(ask[0], &b, 1) == 1; i++) {
        double t = time_run({"crun", "run", "-b", bundle_,
                             "berth-bench-" + std::to_string(getpid()) + "-" + std::to_string(i)});
        if (write(answer[1], &t, sizeof t) != sizeof t) break;
      }
      _exit(0);
    }
    close(ask[0]);
    close(answer[1]);
    ask_.reset(ask[1]);
    answer_.reset(answer[0]);
    return true;
  }
  // One run's milliseconds (negative: it failed).
  double run_once() {
    double t = -1;
    char b = 1;
    if (write(ask_.get(), &b, 1) != 1 || read(answer_.get(), &t, sizeof t) != sizeof t) return -1;
    return t;
  }

 private:
  std::string bundle_;
  pid_t pid_ = -1;
  unique_fd ask_, answer_;
};

// Feeds a stored berth log through the engine's own decoder to `emit`.
// False if the file cannot be read or is corrupt.
bool decode_log(const std::string& path, const engine::LogDecoder::Emit& emit) {
  auto fd = open_fd(path, O_RDONLY);
  if (!fd) return false;
  engine::LogDecoder dec(engine::LogOptions{});
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd->get(), buf.data(), buf.size());
    if (n < 0) return false;
    if (n == 0) return true;
    if (!dec.feed(std::string_view(buf.data(), size_t(n)), emit)) return false;
  }
}

// Checks a stored log byte for byte: all on stdout, byte i == byte_at(i),
// `expect` bytes in all (*got: how many there were).
template <class ByteAt>
bool verify_bytes(const std::string& path, uint64_t expect, uint64_t* got, ByteAt byte_at) {
  uint64_t i = 0;
  bool good = true;
  bool read = decode_log(path, [&](uint8_t stream, std::string_view data) {
    good = good && stream == 1;
    for (char c : data) good = good && c == byte_at(i++);
  });
  *got = i;
  return read && good && i == expect;
}

// berth-testinit write-bytes' pattern.
bool verify_log(const std::string& path, uint64_t expect, uint64_t* got) {
  return verify_bytes(path, expect, got, [](uint64_t i) { return i % 64 == 63 ? '\n' : char('a' + i % 26); });
}

// Reads a log written by `berth-testinit numbered N` back with the engine's
// decoder: every 16-byte line, numbered 1..N in order, exactly once.
bool verify_numbered(const std::string& path, long n, long* got) {
  NumberedSplitter lines;
  long next = 1;
  bool good = true;
  auto line = [&](std::string_view l) {
    long v = 0;
    for (size_t i = 0; i < 15; i++) v = v * 10 + (l[i] - '0');
    good = good && l[15] == '\n' && v == next;
    next++;
  };
  bool read = decode_log(path, [&](uint8_t stream, std::string_view data) {
    good = good && stream == 1;
    lines.feed(data, line);
  });
  *got = next - 1;
  return read && good && lines.pending() == 0 && *got == n;
}

// `logs --tail 10` on a stored log: through the API (one request on a
// connected client) and through berthctl (process start included).
void bench_tail(TestDaemon& d, const std::string& id, int runs, long log_mib) {
  std::vector<double> api_ms;
  bool ok = true;
  for (int i = 0; i < runs; i++) {
    ipc::Client c = d.client();
    double t0 = now_s();
    auto head = c.start_stream("GET", "/containers/" + id + "/logs?stdout=1&stderr=1&tail=10");
    size_t bytes = 0;
    while (head && head->status == 200) {
      auto piece = c.next_chunk();
      if (!piece || !*piece) break;
      bytes += (*piece)->size();
    }
    api_ms.push_back((now_s() - t0) * 1000);
    ok = ok && bytes >= 10 * 64 + 8 && bytes <= 10 * (64 + 8);   // 10 lines of 64 bytes, 1-10 frames
  }
  std::sort(api_ms.begin(), api_ms.end());
  std::string ctl = bin_path("berthctl"), host = d.host();
  Latency cli = measure(runs, [&](int) { return std::vector<std::string>{ctl, "-H", host, "logs", "--tail", "10", id}; });
  std::printf("logs --tail 10 on the %ld MiB log (%d runs): API p50 %.2f ms, max %.2f ms (%s); berthctl logs --tail 10 p50 %.2f ms, p99 %.2f ms\n",
              log_mib,
              runs, api_ms[api_ms.size() / 2], api_ms.back(), ok ? "10 lines" : "UNEXPECTED SIZE", cli.p50_ms, cli.p99_ms);
}

void bench_lines(TestDaemon& d, long lines) {
  double t0 = now_s();
  auto run = d.ctl({"run", "-d", "bench", "/bin/berth-testinit", "numbered", std::to_string(lines)});
  std::string id = run.out.substr(0, 64);
  auto wait = d.ctl({"wait", id});
  double t1 = now_s();
  long got = 0;
  bool ok = wait.out == "0\n" && verify_numbered(d.root() + "/containers/" + id + "/container.log", lines, &got);
  std::printf("log lines, %ld lines of 16 bytes in 64 KiB writes: %.1f M lines/s (%.2f s), verified %s (%ld lines)\n",
              lines, lines / (t1 - t0) / 1e6, t1 - t0, ok ? "complete" : "FAILED", got);
  d.ctl({"rm", id});
  std::string sink = d.dir() + "/cat-sink";
  double c0 = now_s();
  run_command({"sh", "-c", bin_path("berth-testinit") + " numbered " + std::to_string(lines) + " | cat > " + sink});
  double c1 = now_s();
  struct stat st {};
  stat(sink.c_str(), &st);
  std::printf("baseline, berth-testinit numbered | cat > file: %.1f M lines/s (%.2f s, %lld bytes)\n",
              lines / (c1 - c0) / 1e6, c1 - c0, (long long)st.st_size);
  unlink(sink.c_str());
}

// berth-testinit linegen 80's pattern: line k is 79 times 'a' + k % 26, then '\n'.
bool verify_linegen(const std::string& path, uint64_t expect, uint64_t* got) {
  return verify_bytes(path, expect, got,
                      [](uint64_t i) { return i % 80 == 79 ? '\n' : char('a' + (i / 80) % 26); });
}

// 80-byte lines from a fast generator: berth's log against `| cat > file`,
// alternating, `rounds` times; prints each and the median ratio.
// Two times for berth: until the log holds every byte (its size, polled
// every millisecond from a thread, first at its final value), and until
// `wait` returns, which adds the container's exit. They differed by the
// write-back of the whole log while the exit unmounted the container's
// overlay (whose unmount syncs the file system under its upper dir);
// berthd now does that on its job lane (Engine::tear_down_later).
void bench_linegen(TestDaemon& d, long lines, int rounds) {
  uint64_t bytes = uint64_t(lines) * 80;
  std::vector<double> ratios, exit_ratios;
  for (int r = 0; r < rounds; r++) {
    double t0 = now_s();
    auto run = d.ctl({"run", "-d", "bench", "/bin/berth-testinit", "linegen", "80", std::to_string(lines)});
    std::string id = run.out.substr(0, 64);
    std::string log = d.root() + "/containers/" + id + "/container.log";
    std::atomic<bool> stop{false};
    std::vector<std::pair<double, int64_t>> sizes;
    sizes.reserve(1 << 16);
    std::thread poller([&] {
      while (!stop.load()) {
        struct stat st {};
        if (::stat(log.c_str(), &st) == 0) sizes.emplace_back(now_s(), int64_t(st.st_size));
        ::usleep(1000);
      }
    });
    auto wait = d.ctl({"wait", id});
    double t1 = now_s();
    stop = true;
    poller.join();
    struct stat fin {};
    ::stat(log.c_str(), &fin);
    double t_log = t1;
    for (const auto& [t, size] : sizes)
      if (size == int64_t(fin.st_size)) {
        t_log = t;
        break;
      }
    uint64_t got = 0;
    bool ok = wait.out == "0\n" && verify_linegen(log, bytes, &got);
    d.ctl({"rm", id});
    std::string sink = d.dir() + "/cat-sink";
    double c0 = now_s();
    run_command({"sh", "-c", bin_path("berth-testinit") + " linegen 80 " + std::to_string(lines) + " | cat > " + sink});
    double c1 = now_s();
    struct stat st {};
    stat(sink.c_str(), &st);
    unlink(sink.c_str());
    double berth_mb = bytes / (t_log - t0) / 1e6, exit_mb = bytes / (t1 - t0) / 1e6, cat_mb = bytes / (c1 - c0) / 1e6;
    ratios.push_back(berth_mb / cat_mb);
    exit_ratios.push_back(exit_mb / cat_mb);
    std::printf("linegen 80 x %ld (%.0f MB), round %d: berth log %.1f MB/s (%.2f s to the log, verified %s, %llu bytes; "
                "%.1f MB/s, %.2f s, to the exit), | cat > file %.1f MB/s (%lld bytes), ratio %.2f (to the exit %.2f)\n",
                lines, bytes / 1e6, r + 1, berth_mb, t_log - t0, ok ? "complete" : "FAILED", (unsigned long long)got,
                exit_mb, t1 - t0, cat_mb, (long long)st.st_size, berth_mb / cat_mb, exit_mb / cat_mb);
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(exit_ratios.begin(), exit_ratios.end());
  std::printf("linegen: median berth / cat = %.2f to the log, %.2f to the exit, over %d rounds\n",
              ratios[ratios.size() / 2], exit_ratios[exit_ratios.size() / 2], rounds);
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  auto f = split(text->substr(text->rfind(')') + 2), ' ');
  return double(parse_int(f[11]).value_or(0) + parse_int(f[12]).value_or(0)) / double(sysconf(_SC_CLK_TCK));
}

int bench_stats(TestDaemon& d, int n) {
  constexpr double kWindow = 10.0;
  std::vector<std::string> ids;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    auto r = d.ctl({"run", "-d", "busybox", "sleep", "100000"});
    if (r.exit_code != 0) {
      std::fprintf(stderr, "berth-bench: container %d: %s\n", i, r.err.c_str());
      break;
    }
    ids.push_back(r.out.substr(0, 64));
  }
  std::printf("stats: %zu idle containers started in %.1f s\n", ids.size(), now_s() - t0);
  double c0 = cpu_seconds(d.pid()), w0 = now_s();
  usleep(useconds_t(kWindow * 1e6));
  double idle = (cpu_seconds(d.pid()) - c0) / (now_s() - w0);
  std::vector<ipc::Client> clients;
  for (auto& id : ids) {
    clients.push_back(d.client());
    auto r = clients.back().start_stream("GET", "/containers/" + id + "/stats");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "berth-bench: stats stream for %s failed\n", id.c_str());
      return 1;
    }
  }
  c0 = cpu_seconds(d.pid());
  w0 = now_s();
  usleep(useconds_t(kWindow * 1e6));
  double window = now_s() - w0;
  double watched = (cpu_seconds(d.pid()) - c0) / window;
  // Every stream got a sample per interval (they are buffered; count them).
  size_t min_samples = SIZE_MAX, total = 0;
  for (auto& c : clients) {
    size_t got = 0;
    std::string buf;
    while (got < size_t(window) - 1) {
      auto ch = c.next_chunk();
      if (!ch || !*ch) break;
      buf += **ch;
      got = size_t(std::count(buf.begin(), buf.end(), '\n'));
    }
    min_samples = std::min(min_samples, got);
    total += got;
  }
  clients.clear();
  std::printf("stats: daemon CPU with %zu containers idle: %.2f%% of a core; with a stats stream on each: %.2f%% "
              "(%.1f s window; every stream had >= %zu samples, %zu read in all)\n",
              ids.size(), idle * 100, watched * 100, window, min_samples, total);
  for (auto& id : ids) d.ctl({"rm", "-f", id});
  return 0;
}

// Bytes the file system allocates under `path` (du -sB1).
long long du_bytes(const std::string& path) {
  auto r = run_command({"du", "-sB1", path});
  return r.exit_code == 0 ? std::atoll(r.out.c_str()) : -1;
}

int bench_storage(TestDaemon& d, int n) {
  std::string dir = d.root() + "/containers";
  long long before = du_bytes(dir);
  ipc::Client c = d.client();
  std::vector<std::string> ids;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    auto r = c.request("POST", "/containers/create", R"({"Image":"busybox","Cmd":["sleep","100000"]})");
    if (!r || r->status != 201) {
      std::fprintf(stderr, "berth-bench: create %d: %s\n", i, r ? r->body.c_str() : r.error().message().c_str());
      return 1;
    }
    ids.push_back(nlohmann::json::parse(r->body).value("Id", ""));
  }
  double created = now_s() - t0;
  long long after_create = du_bytes(dir);
  std::printf("storage: created %d containers from one image in %.2f s (%.2f ms each, API, one connection)\n", n,
              created, created * 1000 / n);
  std::printf("storage: disk per created container: %.1f KiB (du of %s: %lld -> %lld bytes)\n",
              double(after_create - before) / n / 1024, dir.c_str(), before, after_create);
  t0 = now_s();
  for (auto& id : ids) {
    auto r = c.request("POST", "/containers/" + id + "/start");
    if (!r || r->status != 204) {
      std::fprintf(stderr, "berth-bench: start %s: %s\n", id.c_str(), r ? r->body.c_str() : "no answer");
      return 1;
    }
  }
  double started = now_s() - t0;
  long long after_start = du_bytes(dir);
  std::printf("storage: started them (overlay root each) in %.2f s (%.2f ms each); disk per running container before "
              "any write: %.1f KiB\n",
              started, started * 1000 / n, double(after_start - before) / n / 1024);
  t0 = now_s();
  int removed = 0;
  for (auto& id : ids) {
    auto r = c.request("DELETE", "/containers/" + id + "?force=1");
    removed += r && r->status == 204;
  }
  std::printf("storage: removed %d of them (force) in %.2f s\n", removed, now_s() - t0);

  auto w = d.ctl({"run", "--name", "bench-commit", "busybox", "sh", "-c",
                  "dd if=/dev/urandom of=/big bs=1048576 count=100 2>/dev/null"});
  if (w.exit_code != 0) {
    std::fprintf(stderr, "berth-bench: write 100 MiB: %s\n", w.err.c_str());
    return 1;
  }
  t0 = now_s();
  auto r = c.request("POST", "/commit?container=bench-commit&repo=bench-commit&tag=1");
  double commit = now_s() - t0;
  if (!r || r->status != 201) {
    std::fprintf(stderr, "berth-bench: commit: %s\n", r ? r->body.c_str() : "no answer");
    return 1;
  }
  auto check = d.ctl({"run", "--rm", "bench-commit:1", "sh", "-c", "wc -c < /big"});
  std::printf("storage: commit of a 100 MiB change: %.2f s (%.0f MB/s); the image's /big has %s bytes\n", commit,
              104857600 / commit / 1e6, check.out.substr(0, check.out.find('\n')).c_str());
  d.ctl({"rm", "bench-commit"});
  d.ctl({"rmi", "bench-commit:1"});
  return 0;
}

// --network-runs N: start latency on the default bridge against none, the
// two alternating so both see the same machine.
void bench_network_start(TestDaemon& d, int runs) {
  std::string ctl = bin_path("berthctl"), host = d.host();
  std::vector<double> none_ms, bridge_ms;
  int none_failures = 0, bridge_failures = 0;
  for (const char* mode : {"none", "bridge"})
    spawn_quiet({ctl, "-H", host, "run", "--rm", "--network", mode, "busybox", "true"});  // warm caches
  for (int i = 0; i < runs; i++) {
    double t = time_run({ctl, "-H", host, "run", "--rm", "--network", "none", "busybox", "true"});
    none_failures += t < 0;
    none_ms.push_back(std::abs(t));
    t = time_run({ctl, "-H", host, "run", "--rm", "--network", "bridge", "busybox", "true"});
    bridge_failures += t < 0;
    bridge_ms.push_back(std::abs(t));
  }
  Latency n = summarize(none_ms, none_failures), b = summarize(bridge_ms, bridge_failures);
  std::printf("start latency, run --rm --network none (%d runs, alternating): p50 %.2f ms, p99 %.2f ms, failures %d\n",
              runs, n.p50_ms, n.p99_ms, n.failures);
  std::printf("start latency, run --rm --network bridge (%d runs, alternating): p50 %.2f ms, p99 %.2f ms, failures %d\n",
              runs, b.p50_ms, b.p99_ms, b.failures);
  std::printf("bridge p50 / none p50 = %.2f\n", b.p50_ms / n.p50_ms);
}

// --networked N: N detached containers started one after another on the
// default bridge through the API (one connection), then removed.
int bench_networked(TestDaemon& d, int n) {
  auto c = d.client();
  std::vector<std::string> ids;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    auto r = c.request("POST", "/containers/create", R"({"Image":"busybox","Cmd":["sleep","100000"]})");
    if (!r || r->status != 201) {
      std::fprintf(stderr, "berth-bench: create %d: %s\n", i, r ? r->body.c_str() : r.error().message().c_str());
      return 1;
    }
    std::string id = nlohmann::json::parse(r->body)["Id"];
    auto s = c.request("POST", "/containers/" + id + "/start");
    if (!s || s->status != 204) {
      std::fprintf(stderr, "berth-bench: start %d: %s\n", i, s ? s->body.c_str() : s.error().message().c_str());
      return 1;
    }
    ids.push_back(id);
  }
  double t1 = now_s();
  std::printf("networked starts, %d containers on the default bridge (create+start each, one client): %.2f s, %.2f ms each\n",
              n, t1 - t0, (t1 - t0) * 1000 / n);
  for (const auto& id : ids) (void)c.request("DELETE", "/containers/" + id + "?force=1");
  std::printf("removed %d in %.2f s\n", n, now_s() - t1);
  return 0;
}

// The busybox bundle with a sleeping process, for `crun run -d`.
bool make_sleep_bundle(const std::string& dir) {
  if (!make_crun_bundle(dir)) return false;
  auto text = read_file(dir + "/config.json");
  if (!text) return false;
  auto j = nlohmann::json::parse(*text);
  j["process"]["args"] = {"/bin/sleep", "100000"};
  return bool(write_file_atomic(dir + "/config.json", j.dump(2)));
}

// N `crun run -d` one after another, in a child in crun's mount namespace
// (enter_crun_mount_ns); then `crun delete -f` of each (untimed). The
// seconds the starts took, or a negative value if one failed.
double crun_detached_starts(const std::string& bundle, int n, int round) {
  return bench::in_child(
      [&] {
        enter_crun_mount_ns();
        std::string prefix = "berth-burst-" + std::to_string(getpid()) + "-" + std::to_string(round) + "-";
        // A config per container, each with its own cgroup (untimed).
        for (int k = 0; k < n; k++)
          if (!write_crun_config(bundle, bundle + "/c" + std::to_string(k) + ".json", "burst-" + std::to_string(k)))
            return -1.0;
        double t0 = now_s();
        int failed = 0, i = 0;
        for (; i < n && !failed; i++)
          failed = spawn_quiet({"crun", "run", "-d", "-b", bundle, "-f", bundle + "/c" + std::to_string(i) + ".json",
                                prefix + std::to_string(i)});
        double t = now_s() - t0;
        for (int k = 0; k < i; k++) spawn_quiet({"crun", "delete", "-f", prefix + std::to_string(k)});
        return failed ? -t : t;
      },
      -1.0);
}

// N create + start through the API from `clients` connections at once;
// the seconds from the first request to the last start's answer, or a
// negative value if one failed. Every container is removed after (untimed).
double berth_burst_starts(TestDaemon& d, int n, int clients) {
  std::atomic<int> next{0}, failed{0};
  std::vector<std::vector<std::string>> ids(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  double t0 = now_s();
  for (int k = 0; k < clients; k++)
    threads.emplace_back([&, k] {
      auto c = d.client();
      for (int i; (i = next++) < n && !failed;) {
        auto r = c.request("POST", "/containers/create",
                           R"({"Image":"busybox","Cmd":["sleep","100000"],"HostConfig":{"NetworkMode":"none"}})");
        if (!r || r->status != 201) {
          std::fprintf(stderr, "berth-bench: burst create %d: %s\n", i, r ? r->body.c_str() : r.error().message().c_str());
          failed = 1;
          return;
        }
        std::string id = nlohmann::json::parse(r->body)["Id"];
        ids[size_t(k)].push_back(id);
        auto st = c.request("POST", "/containers/" + id + "/start");
        if (!st || st->status != 204) {
          std::fprintf(stderr, "berth-bench: burst start %d: %s\n", i, st ? st->body.c_str() : st.error().message().c_str());
          failed = 1;
          return;
        }
      }
    });
  for (auto& t : threads) t.join();
  double t = now_s() - t0;
  auto c = d.client();
  for (const auto& list : ids)
    for (const auto& id : list) (void)c.request("DELETE", "/containers/" + id + "?force=1");
  return failed ? -t : t;
}

// --burst N: berth's burst of `run -d` from many clients against crun's
// sequential `run -d` rate, alternating rounds (the issue's target: 3x).
int bench_burst(TestDaemon& d, int n, int clients, int rounds, bool crun) {
  std::string bundle = d.dir() + "/sleep-bundle";
  if (crun && !make_sleep_bundle(bundle)) {
    std::printf("crun: could not prepare an OCI bundle; burst without crun\n");
    crun = false;
  }
  for (int r = 0; r < rounds; r++) {
    double c = crun ? crun_detached_starts(bundle, n, r) : 0;
    double b = berth_burst_starts(d, n, clients);
    if (b < 0 || c < 0) {
      std::fprintf(stderr, "berth-bench: burst round %d failed (berth %.2f s, crun %.2f s)\n", r + 1, b, c);
      return 1;
    }
    std::printf("burst round %d: berth %d run -d from %d clients at once: %.2f s, %.0f/s", r + 1, n, clients, b, n / b);
    if (crun) std::printf("; crun run -d one after another: %.2f s, %.0f/s; berth / crun = %.2fx", c, n / c, c / b);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  long log_mib = 1024;
  bool crun = have_program("crun");
  int stats_n = 0;
  int storage_n = 0;
  int network_runs = 0, networked_n = 0;
  long log_lines = 10'000'000;
  long linegen_lines = 0;
  int linegen_rounds = 3;
  std::string warm_inits;  // berthd's --warm-inits; its default when empty
  int burst_n = 0, burst_clients = 100, burst_rounds = 2;
  std::vector<std::string> berthd_args;   // --berthd-arg, each given to berthd as is
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they happen, even into a file
  std::signal(SIGPIPE, SIG_IGN);             // a dead crun helper is a failed run, not our end
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--log-mib" && i + 1 < argc) log_mib = std::atol(argv[++i]);
    else if (a == "--no-crun") crun = false;
    else if (a == "--stats" && i + 1 < argc) stats_n = std::atoi(argv[++i]);
    else if (a == "--log-lines" && i + 1 < argc) log_lines = std::atol(argv[++i]);
    else if (a == "--log-linegen" && i + 1 < argc) linegen_lines = std::atol(argv[++i]);
    else if (a == "--linegen-rounds" && i + 1 < argc) linegen_rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--storage" && i + 1 < argc) storage_n = std::atoi(argv[++i]);
    else if (a == "--warm-inits" && i + 1 < argc) warm_inits = argv[++i];
    else if (a == "--network-runs" && i + 1 < argc) network_runs = std::atoi(argv[++i]);
    else if (a == "--networked" && i + 1 < argc) networked_n = std::atoi(argv[++i]);
    else if (a == "--burst" && i + 1 < argc) burst_n = std::atoi(argv[++i]);
    else if (a == "--burst-clients" && i + 1 < argc) burst_clients = std::max(1, std::atoi(argv[++i]));
    else if (a == "--burst-rounds" && i + 1 < argc) burst_rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--berthd-arg" && i + 1 < argc) berthd_args.push_back(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: berth-bench [--runs N] [--log-mib M] [--log-lines N] [--no-crun] [--stats N] [--storage N] "
                   "[--warm-inits N] [--network-runs N] [--networked N] [--log-linegen N] [--linegen-rounds R] "
                   "[--burst N] [--burst-clients C] [--burst-rounds R] [--berthd-arg FLAG]...\n");
      return 2;
    }
  }
  if (!is_root()) {
    std::fprintf(stderr, "berth-bench: needs root\n");
    return 77;
  }
  TestDaemon d;
  if (!warm_inits.empty()) berthd_args.push_back("--warm-inits=" + warm_inits);
  d.set_extra_args(berthd_args);
  if (crun) (void)crun_cgroups();   // before any child: the base is named after this pid
  std::string err;
  if (!d.start(&err) || !d.import_busybox(&err)) {
    std::fprintf(stderr, "berth-bench: %s\n", err.c_str());
    return 1;
  }
  // An image with the static writer: busybox plus /bin/berth-testinit.
  std::string tar = d.dir() + "/bench.tar";
  run_command({"cp", BERTH_BUSYBOX_TAR, tar});
  auto appended = run_command({"tar", "--append", "-f", tar, "-C", BERTH_BIN_DIR, "--transform", "s,^,bin/,",
                               "--owner=0", "--group=0", "berth-testinit"});
  if (appended.exit_code != 0) {
    std::fprintf(stderr, "berth-bench: build bench image: %s\n", appended.err.c_str());
    return 1;
  }
  d.ctl({"import", tar, "bench:latest"});

  std::string ctl = bin_path("berthctl"), host = d.host();
  spawn_quiet({ctl, "-H", host, "run", "--rm", "--network", "none", "busybox", "true"});  // warm caches
  std::vector<std::string> berth_argv{ctl, "-H", host, "run", "--rm", "--network", "none", "busybox", "true"};
  std::unique_ptr<CrunRunner> crun_runner;
  if (crun) {
    std::string bundle = d.dir() + "/bundle";
    crun_runner = std::make_unique<CrunRunner>(bundle);
    if (!make_crun_bundle(bundle) || !crun_runner->start()) {
      std::printf("crun: could not prepare an OCI bundle; skipped\n");
      crun_runner.reset();
    }
  }
  std::vector<double> berth_ms, crun_ms;
  int berth_failures = 0, crun_failures = 0;
  for (int i = 0; i < runs; i++) {  // alternating, so both see the same machine
    double t = time_run(berth_argv);
    berth_failures += t < 0;
    berth_ms.push_back(std::abs(t));
    if (!crun_runner) continue;
    t = crun_runner->run_once();
    crun_failures += t < 0;
    crun_ms.push_back(std::abs(t));
  }
  crun_runner.reset();
  Latency berth = summarize(berth_ms, berth_failures);
  std::printf("start latency, berthctl run --rm --network none busybox true (%d runs): p50 %.2f ms, p99 %.2f ms, mean %.2f ms, failures %d\n",
              runs, berth.p50_ms, berth.p99_ms, berth.mean_ms, berth.failures);
  if (!crun_ms.empty()) {
    Latency c = summarize(crun_ms, crun_failures);
    std::printf("start latency, crun run (same rootfs, OCI bundle, runs alternating with berth's) (%d runs): p50 %.2f ms, p99 %.2f ms, mean %.2f ms, failures %d\n",
                runs, c.p50_ms, c.p99_ms, c.mean_ms, c.failures);
    std::printf("berth p50 / crun p50 = %.2f\n", berth.p50_ms / c.p50_ms);
  }

  if (log_mib > 0) {
    uint64_t bytes = uint64_t(log_mib) << 20;
    double t0 = now_s();
    auto run = d.ctl({"run", "-d", "bench", "/bin/berth-testinit", "write-bytes", std::to_string(bytes), "65536"});
    std::string id = run.out.substr(0, 64);
    auto wait = d.ctl({"wait", id});
    double t1 = now_s();
    uint64_t got = 0;
    bool ok = wait.out == "0\n" && verify_log(d.root() + "/containers/" + id + "/container.log", bytes, &got);
    std::printf("log throughput, %ld MiB in 64 KiB writes: %.1f MB/s (%.2f s), verified %s (%llu bytes)\n", log_mib,
                bytes / (t1 - t0) / 1e6, t1 - t0, ok ? "complete" : "FAILED", (unsigned long long)got);
    if (ok) bench_tail(d, id, std::min(runs, 50), log_mib);
    d.ctl({"rm", id});
    std::string sink = d.dir() + "/cat-sink";
    double c0 = now_s();
    run_command({"sh", "-c", bin_path("berth-testinit") + " write-bytes " + std::to_string(bytes) + " 65536 | cat > " + sink});
    double c1 = now_s();
    struct stat st {};
    stat(sink.c_str(), &st);
    std::printf("baseline, berth-testinit | cat > file: %.1f MB/s (%.2f s, %lld bytes)\n", bytes / (c1 - c0) / 1e6,
                c1 - c0, (long long)st.st_size);
    unlink(sink.c_str());
  }
  if (log_lines > 0) bench_lines(d, log_lines);
  if (linegen_lines > 0) bench_linegen(d, linegen_lines, linegen_rounds);
  if (stats_n > 0 && bench_stats(d, stats_n) != 0) return 1;
  if (storage_n > 0 && bench_storage(d, storage_n) != 0) return 1;
  if (network_runs > 0) bench_network_start(d, network_runs);
  if (networked_n > 0 && bench_networked(d, networked_n) != 0) return 1;
  int rc = burst_n > 0 && bench_burst(d, burst_n, burst_clients, burst_rounds, crun) != 0 ? 1 : 0;
  if (crun) remove_crun_cgroups();
  if (rc) return 1;
  return d.stop() == 0 ? 0 : 1;
}
