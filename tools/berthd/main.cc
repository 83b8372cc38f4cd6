// berthd: the berth daemon. One reactor thread runs the API server and
// supervises every container.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <cstring>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/reactor/reactor.h"
#include "ipc/server/server.h"

namespace {

using namespace berth;

struct Flags {
  std::string root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string init_path;            // --init-path; "": berth-init beside this binary
  std::vector<std::string> hosts;   // -H, repeatable
  std::string pidfile;
  std::string log_level = "info";
  size_t netns_pool = 4;
  size_t warm_inits = 2;
  std::string userns_remap;
  std::string cgroup_parent = "berth";
  bool no_cgroups = false;
  std::vector<std::string> log_opts;   // --log-opt key=value: containers' log defaults
  int watchdog_ms = 0;
  std::string bridge = "berth0";       // the default network's bridge; "none": no default network
  std::string bip = "10.88.0.0/16";
  unsigned bridge_ports = 1000;
  bool userland_proxy = false;         // true: the reactor's proxy carries loopback to published ports
  std::vector<std::string> registry_mirrors, insecure_registries;
  std::string registry_certs_dir = "/etc/berth/certs.d";
  size_t max_connections = 0;       // 0: the server's default (half the open-file limit)
  int header_timeout_s = 60;
  std::string socket_group = "berth";
  bool tls_verify = false, insecure_tcp = false;
  std::string tls_ca, tls_cert, tls_key;
  bool live_restore = true;   // a clean exit leaves containers running (the keeper keeps them)
};

// A live upgrade (SIGHUP): berthd stops as with --live-restore, keeping its
// API listening sockets open across an exec of the binary at the path it
// was started from (a new binary put there, or the same one), which takes
// them over: connections made meanwhile wait in the sockets' backlog, none
// is refused. The pid stays; the keeper keeps the containers, and the new
// berthd re-adopts them as after any restart.
constexpr const char* kListenFdsEnv = "BERTH_LISTEN_FDS";   // "fd host\n" per socket

struct Upgrade {
  bool requested = false;
  std::map<std::string, unique_fd> listeners;   // by host
};

// The sockets a replaced berthd handed over, taken out of the environment.
std::map<std::string, int> inherited_listeners() {
  std::map<std::string, int> out;
  const char* env = ::getenv(kListenFdsEnv);
  if (!env) return out;
  std::string text = env;
  ::unsetenv(kListenFdsEnv);
  for (std::string_view line : split(text, '\n')) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    auto fd = parse_int(line.substr(0, sp));
    if (fd && *fd > 2) out[std::string(line.substr(sp + 1))] = int(*fd);
  }
  return out;
}

// This executable's path (/proc/self/exe), or "". Read once at start,
// while it names this file (once replaced, it says "(deleted)").
std::string self_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

// `name` in the directory of the executable at `self`.
std::string beside(const std::string& self, const std::string& name) {
  if (self.empty()) return name;
  return self.substr(0, self.rfind('/') + 1) + name;
}

// Holds an exclusive lock on <root>/berthd.lock for the daemon's life.
Result<unique_fd> lock_root(const std::string& root) {
  BERTH_TRY_VOID(make_dirs(root, 0711));
  std::string path = root + "/berthd.lock";
  unique_fd fd = BERTH_TRY(open_fd(path, O_RDWR | O_CREAT, 0600));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) {
      auto pid = read_file(path);
      return Error::conflict("another berthd (pid {}) is using root {}",
                             pid ? std::string_view(*pid).substr(0, pid->find('\n')) : "?", root);
    }
    return Error::sys(errno, "lock {}", path);
  }
  if (::ftruncate(fd.get(), 0) == 0) (void)write_all(fd.get(), std::to_string(::getpid()) + "\n");
  return fd;
}

// Each container costs the daemon a few fds (pidfd, log pipes, OOM eventfd,
// attached clients): take the whole hard limit, never fail when it is low.
//
// Then the fd table is grown to that size at once, while berthd has one
// thread: a multithreaded process that outgrows its table waits for an RCU
// grace period in the pipe2() or open() that grows it (expand_files), which
// the reactor's watchdog caught holding the loop for milliseconds at every
// doubling. The table never shrinks; 20,000 slots cost about 170 KiB.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      log::warn("berthd", "raise the open-file limit to {}: {}", rl.rlim_max, std::strerror(errno));
      (void)::getrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  int top = int(std::min<rlim_t>(rl.rlim_cur, 1 << 20)) - 1;
  if (top > 2 && ::dup2(STDERR_FILENO, top) == top) ::close(top);
}

// -H values: unix:///path (or a bare absolute path) and tcp://addr:port;
// none means <exec-root>/berth.sock.
Result<std::vector<std::string>> endpoints(const Flags& f) {
  if (f.hosts.empty()) return std::vector<std::string>{"unix://" + f.exec_root + "/berth.sock"};
  std::vector<std::string> out;
  for (const std::string& h : f.hosts) {
    if (!h.empty() && h[0] == '/') out.push_back("unix://" + h);
    else if (h.starts_with("unix://") || h.starts_with("tcp://")) out.push_back(h);
    else return Error::invalid("-H {}: expected unix:///path or tcp://addr:port", h);
  }
  return out;
}

// Docker's checks of the registry flags: a mirror is an http(s) URL with a
// host and no path; an insecure registry is host[:port] or an IPv4 CIDR.
Result<void> check_registry_flags(const Flags& f) {
  for (const std::string& m : f.registry_mirrors) {
    std::string_view rest = m;
    if (rest.starts_with("https://")) rest.remove_prefix(8);
    else if (rest.starts_with("http://")) rest.remove_prefix(7);
    else return Error::invalid("invalid --registry-mirror {:?}: the URL must start with https:// or http://", m);
    while (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.empty() || rest.find('/') != std::string_view::npos)
      return Error::invalid("invalid --registry-mirror {:?}: expected scheme://host[:port], without a path", m);
  }
  for (const std::string& r : f.insecure_registries) {
    if (r.empty() || r.find("://") != std::string::npos)
      return Error::invalid("invalid --insecure-registry {:?}: expected host[:port] or a CIDR", r);
    size_t slash = r.find('/');
    if (slash == std::string::npos) continue;
    auto bits = parse_int(std::string_view(r).substr(slash + 1));
    in_addr a;
    if (!bits || *bits < 0 || *bits > 32 || ::inet_pton(AF_INET, r.substr(0, slash).c_str(), &a) != 1)
      return Error::invalid("invalid --insecure-registry {:?}: not an IPv4 CIDR", r);
  }
  return ok();
}

int run(const Flags& f, const std::string& self, Upgrade* upgrade) {
  auto fail = [](const Error& e) {
    log::error("berthd", "{}", e.message());
    return 1;
  };
  if (auto r = check_registry_flags(f); !r) return fail(r.error());
  auto lock = lock_root(f.root);
  if (!lock) return fail(lock.error());
  auto hosts = endpoints(f);
  if (!hosts) return fail(hosts.error());
  if (auto r = make_dirs(f.exec_root, 0711); !r) return fail(r.error());

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  unique_fd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sfd) return fail(Error::sys(errno, "signalfd"));

  auto reactor = reactor::Reactor::create(4096, 2);
  if (!reactor) return fail(reactor.error());
  reactor::Reactor& r = **reactor;
  engine::Options eo;
  eo.root = f.root;
  eo.exec_root = f.exec_root;
  eo.init_path = f.init_path.empty() ? beside(self, "berth-init") : f.init_path;
  eo.netns_pool = f.netns_pool;
  eo.warm_inits = f.warm_inits;
  if (!f.userns_remap.empty()) {
    if (auto r = engine::set_userns_remap(eo, f.userns_remap); !r) return fail(r.error());
    // A warm init is made before its container is known; a remapped one
    // needs its overlay mounted by the keeper before its clone (userns.h).
    if (eo.warm_inits) log::info("berthd", "--userns-remap: warm inits are off (containers start cold)");
    eo.warm_inits = 0;
  }
  eo.cgroup_parent = f.cgroup_parent;
  eo.bridge = f.bridge;
  eo.bip = f.bip;
  eo.ports_per_bridge = f.bridge_ports;
  eo.userland_proxy = f.userland_proxy;
  std::map<std::string, std::string> log_opts;
  for (auto& kv : f.log_opts) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) return fail(Error::invalid("invalid --log-opt {:?}: expected key=value", kv));
    log_opts[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto log_defaults = engine::parse_log_config("", log_opts);
  if (!log_defaults) return fail(log_defaults.error());
  eo.log_defaults = *log_defaults;
  eo.cgroups = !f.no_cgroups;
  eo.live_restore = f.live_restore;
  eo.registry.mirrors = f.registry_mirrors;
  eo.registry.insecure = f.insecure_registries;
  eo.registry.certs_dir = f.registry_certs_dir;
  if (f.watchdog_ms > 0) {
    // Debug aid and test hook: names any callback that held the loop.
    r.set_watchdog(std::chrono::milliseconds(f.watchdog_ms), std::chrono::milliseconds(5 * f.watchdog_ms),
                   [](const reactor::Reactor::WatchdogEvent& e) {
      log::warn("watchdog", "reactor callback held the loop {} us (cpu {} us, {} voluntary switches, from {}.{:06}): {}",
                e.wall_us, e.cpu_us, e.voluntary_switches, e.start_us / 1000000, e.start_us % 1000000, e.name);
    });
    log::info("watchdog", "watchdog on: callbacks over {} ms that block, or compute over {} ms, are logged",
              f.watchdog_ms, 5 * f.watchdog_ms);
  }
  auto engine = engine::Engine::open(r, eo);
  if (!engine) return fail(engine.error());
  ipc::ServerOptions so;
  so.hosts = *hosts;
  so.socket_group = f.socket_group;
  so.max_connections = f.max_connections;
  so.header_timeout_s = f.header_timeout_s;
  so.tls_verify = f.tls_verify;
  so.tls = {f.tls_ca, f.tls_cert, f.tls_key};
  so.insecure_tcp = f.insecure_tcp;
  so.inherited = inherited_listeners();
  size_t inherited = so.inherited.size();
  auto server = ipc::Server::listen(r, **engine, so);
  if (!server) return fail(server.error());
  if (!f.pidfile.empty()) {
    if (auto w = write_file_atomic(f.pidfile, std::to_string(::getpid()) + "\n"); !w) return fail(w.error());
  }
  std::string listening;
  for (const auto& h : *hosts) listening += (listening.empty() ? "" : ",") + h;
  log::info("berthd", "listening on {} root={} exec-root={} version={}{}", listening, f.root, f.exec_root,
            ipc::kBerthVersion, inherited ? " (live upgrade: listening sockets taken over)" : "");

  signalfd_siginfo si{};
  reactor::Completion sig_c;
  sig_c.set_callback([&](int32_t res, uint32_t) {
    if (res < 0 && res != -EINTR) return;
    // Not read again once a shutdown begins: later signals are ignored.
    if (si.ssi_signo == SIGHUP) {
      if (::access(self.c_str(), X_OK) < 0) {
        log::error("berthd", "SIGHUP: no live upgrade: {} cannot be executed ({}); berthd goes on", self,
                   std::strerror(errno));
        r.read(sfd.get(), &si, sizeof si, uint64_t(-1), sig_c);
        return;
      }
      log::info("berthd", "SIGHUP: live upgrade: stopping, then executing {}", self);
      upgrade->requested = true;
    } else {
      log::info("berthd", "signal {}: shutting down", si.ssi_signo);
    }
    (*server)->close([&] { (*engine)->shutdown([&] { r.stop(); }, upgrade->requested); }, upgrade->requested);
  });
  r.read(sfd.get(), &si, sizeof si, uint64_t(-1), sig_c);
  r.run();
  // Let outstanding persistence jobs and cancellations finish.
  while (r.pending() > 1) {
    if (sig_c.in_flight()) r.cancel(sig_c);
    r.run_once(100);
  }
  // Jobs still running hold handles the engine gave them (stores, cgroups)
  // and their completions call into the engine: they end first.
  r.drain_jobs();
  (*engine)->resources().drain_pool();
  if (upgrade->requested) upgrade->listeners = (*server)->release_listeners();
  server->reset();
  engine->reset();
  if (!f.pidfile.empty()) ::unlink(f.pidfile.c_str());
  log::info("berthd", "stopped");
  return 0;
}

// The exec of a live upgrade; returns only if it failed.
int reexec(const std::string& self, char** argv, Upgrade& up) {
  std::string env;
  for (auto& [host, fd] : up.listeners) {
    if (::fcntl(fd.get(), F_SETFD, 0) < 0) continue;   // inherited across the exec
    env += fmt::format("{} {}\n", fd.get(), host);
  }
  ::setenv(kListenFdsEnv, env.c_str(), 1);
  ::execv(self.c_str(), argv);
  std::fprintf(stderr, "berthd: live upgrade: exec %s: %s; the containers run on under the keeper\n", self.c_str(),
               std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // The keeper (core/runtime/keeper.h), exec'd by berthd from its own
  // binary: nothing of the daemon runs in it.
  if (argc == 3 && std::strcmp(argv[1], "--keeper") == 0) berth::engine::keeper_main(3, argv[2]);
  CLI::App app{"berthd: the berth container engine daemon (SIGTERM: stop; SIGHUP: live upgrade, re-executing the binary at its path)"};
  Flags f;
  app.add_option("--root", f.root, "Root directory for persistent state (images, containers)");
  app.add_option("--exec-root", f.exec_root, "Root directory for runtime state (socket)");
  app.add_option("--init-path", f.init_path, "The init of --init containers (default: berth-init beside berthd)");
  app.add_option("-H,--host", f.hosts,
                 "API endpoint, repeatable: unix:///path (default <exec-root>/berth.sock) or tcp://addr:port (with TLS)");
  app.add_option("--group", f.socket_group, "Group of the Unix sockets (mode 0660; default berth)");
  app.add_option("--max-connections", f.max_connections,
                 "API connections open at once; more are answered 503 (default: half the open-file limit)");
  app.add_option("--header-timeout", f.header_timeout_s,
                 "Seconds a client has to send a request head (and a TLS handshake), from its connection or its last "
                 "response (0: no limit)")
      ->check(CLI::Range(0, 86400));
  app.add_flag("--tlsverify", f.tls_verify,
               "Serve tcp:// endpoints with mutual TLS: clients need a certificate signed by --tlscacert");
  app.add_option("--tlscacert", f.tls_ca, "CA certificate (PEM) that signs client certificates");
  app.add_option("--tlscert", f.tls_cert, "berthd's TLS certificate (PEM)");
  app.add_option("--tlskey", f.tls_key, "berthd's TLS private key (PEM)");
  app.add_flag("--insecure-tcp", f.insecure_tcp,
               "Serve tcp:// endpoints as plain HTTP, without TLS: whoever reaches the port is root here");
  app.add_option("--pidfile", f.pidfile, "Write the daemon's PID to this file");
  app.add_option("--log-level", f.log_level, "debug, info, warn or error");
  app.add_option("--netns-pool", f.netns_pool, "Network namespaces to create ahead of container starts (0: none)");
  app.add_option("--userns-remap", f.userns_remap,
                 "A user namespace per container: default (the user berthremap), USER[:GROUP] (their ranges in "
                 "/etc/subuid and /etc/subgid) or UID:GID:SIZE; containers created with --userns host keep the "
                 "host's");
  app.add_option("--warm-inits", f.warm_inits,
                 "Container inits to start ahead of time for recently started images (0: none)")
      ->check(CLI::Range(0, 64));
  app.add_option("--cgroup-parent", f.cgroup_parent,
                 "Parent cgroup of every container: relative to berthd's own cgroup, or absolute (default berth)");
  app.add_option("--log-opt", f.log_opts,
                 "Default log options of containers: max-size=10m, max-file=3, mode=non-blocking, max-buffer-size=4m "
                 "(default: one file, never rotated, like Docker's json-file)");
  app.add_option("-b,--bridge", f.bridge,
                 "Bridge of the default network \"bridge\" (default berth0; none: containers get no network by default)");
  app.add_option("--bip", f.bip,
                 "The default network's subnet, or its gateway address with the prefix (default 10.88.0.0/16)");
  app.add_option("--bridge-ports", f.bridge_ports,
                 "Containers per bridge of a network before more go on leaf bridges joined to it "
                 "(default 1000; a Linux bridge takes at most 1,023 ports)")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--userland-proxy", f.userland_proxy,
               "Serve the host's loopback connections to published TCP ports through berthd's proxy "
               "(=true) instead of the kernel's NAT (default false: DNAT with route_localnet on berth's bridges "
               "and a guard rule, as Podman does)");
  app.add_option("--registry-mirror", f.registry_mirrors,
                 "A mirror of Docker Hub (https://host[:port] or http://...), tried first for docker.io images; "
                 "repeatable");
  app.add_option("--insecure-registry", f.insecure_registries,
                 "A registry (host[:port] or a CIDR) reached without TLS verification, or over plain HTTP; "
                 "repeatable (loopback registries may always speak plain HTTP)");
  app.add_option("--registry-certs-dir", f.registry_certs_dir,
                 "Registry CAs and client certificates: <dir>/<host:port>/*.crt, client.cert, client.key "
                 "(default /etc/berth/certs.d)");
  app.add_flag("--live-restore,!--no-live-restore", f.live_restore,
               "On a clean exit, leave containers running, kept by the keeper for the next berthd (default); "
               "--no-live-restore stops them");
  app.add_flag("--no-cgroups", f.no_cgroups, "Run containers without cgroups (limits, stats and pause are refused)");
  app.add_option("--debug-watchdog-ms", f.watchdog_ms,
                 "Log (at warn, component watchdog) every reactor callback that held the loop longer than this "
                 "while blocked, or computed five times as long (0: off)");
  CLI11_PARSE(app, argc, argv);
  berth::log::Level level;
  if (!berth::log::parse_level(f.log_level, &level)) {
    std::fprintf(stderr, "berthd: invalid --log-level %s\n", f.log_level.c_str());
    return 2;
  }
  berth::log::set_level(level);
  raise_fd_limit();  // first: berthd has one thread yet
  std::string self = self_path();   // what a live upgrade executes
  berth::log::start_writer();
  Upgrade upgrade;
  int rc = run(f, self, &upgrade);
  berth::log::stop_writer();
  if (rc == 0 && upgrade.requested) return reexec(self, argv, upgrade);
  return rc;
}
