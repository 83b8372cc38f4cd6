#include "tools/testkit/daemon.h"

#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::test {

bool is_root() { return ::geteuid() == 0; }

std::string bin_path(const std::string& name) { return std::string(BERTH_BIN_DIR) + "/" + name; }

bool have_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : split(path ? path : "/usr/bin:/bin", ':'))
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  return false;
}

namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const std::vector<std::string>& extra_env) {
  CommandResult res;
  char out_tmpl[] = "/tmp/berth-cmd-out-XXXXXX", err_tmpl[] = "/tmp/berth-cmd-err-XXXXXX",
       in_tmpl[] = "/tmp/berth-cmd-in-XXXXXX";
  int out = ::mkstemp(out_tmpl), err = ::mkstemp(err_tmpl), in = ::mkstemp(in_tmpl);
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  ::unlink(in_tmpl);
  if (!input.empty()) (void)write_all(in, input);
  ::lseek(in, 0, SEEK_SET);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& e : extra_env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(126);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(out, 0, SEEK_SET);
  ::lseek(err, 0, SEEK_SET);
  res.out = read_all(out);
  res.err = read_all(err);
  ::close(out);
  ::close(err);
  ::close(in);
  return res;
}

namespace {

std::string comm_of(pid_t pid) {
  auto c = read_file(fmt::format("/proc/{}/comm", pid));
  return c ? c->substr(0, c->find('\n')) : "";
}

}  // namespace

TestDaemon::TestDaemon() {
  char tmpl[] = "/tmp/berth-test-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  // Searchable by others (listing nothing): a daemon with --userns-remap
  // needs its root's ancestors so for the remapped inits.
  (void)::chmod(dir_.c_str(), 0711);
}

TestDaemon::~TestDaemon() {
  if (pid_ > 0) stop();
  (void)kill_keeper();   // it outlives berthd; its containers die with it
  if (root_mounted_) ::umount2(root().c_str(), MNT_DETACH);
  (void)remove_tree(dir_);
  remove_cgroup_parent();
  if (netns_holder_ >= 0) ::close(netns_holder_);
}

namespace {

// A new network namespace with lo up, made by a short-lived thread that
// unshares and exits (no thread of the test process changes namespace).
int make_daemon_netns() {
  int fd = -1;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) < 0) return;
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ::ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
    ::close(s);
  });
  t.join();
  return fd;
}

}  // namespace

CommandResult TestDaemon::host_command(const std::vector<std::string>& argv, const std::string& input) {
  // This process's fd, opened by nsenter through /proc/<our pid>/fd.
  std::vector<std::string> full = {"nsenter", fmt::format("--net=/proc/{}/fd/{}", ::getpid(), netns_holder_), "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full, input);
}

std::string TestDaemon::cgroup_parent() const {
  return "berth-test-" + dir_.substr(dir_.rfind('-') + 1);
}

std::string TestDaemon::container_cgroup(const std::string& controller, const std::string& id) const {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return "";
  for (const auto& line : split(*text, '\n')) {
    auto parts = split(line, ':');
    if (parts.size() < 3) continue;
    for (const auto& c : split(parts[1], ','))
      if (c == controller) {
        std::string self = parts[2] == "/" ? "" : parts[2];
        return "/sys/fs/cgroup/" + parts[1] + self + "/" + cgroup_parent() + "/" + id;
      }
  }
  return "";
}

// The daemon runs in this process's cgroups (it is forked from it), so its
// parent cgroup is <hierarchy>/<our cgroup>/<cgroup_parent()>: remove it (and
// leave everything else alone) once the daemon and its containers are gone.
void TestDaemon::remove_cgroup_parent() const {
  auto text = read_file("/proc/self/cgroup");
  if (!text) return;
  for (const auto& line : split(*text, '\n')) {
    auto parts = split(line, ':');
    if (parts.size() < 3 || parts[1].empty()) continue;  // v2 "0::" line: no controllers here
    std::string first = split(parts[1], ',')[0];
    if (starts_with(first, "name=")) continue;
    std::string self = parts[2] == "/" ? "" : parts[2];
    std::string dir = "/sys/fs/cgroup/" + parts[1] + self + "/" + cgroup_parent();
    // Memory cgroups a daemon killed before its clean exit kept for reuse.
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && starts_with(e->d_name, ".berth-pool-")) ::rmdir((dir + "/" + e->d_name).c_str());
      ::closedir(d);
    }
    ::rmdir(dir.c_str());
  }
}

bool TestDaemon::start(std::string* error) {
  std::string logf = dir_ + "/berthd.log";
  if (root_tmpfs_bytes_ > 0 && !root_mounted_) {
    std::string opts = "size=" + std::to_string(root_tmpfs_bytes_) + ",mode=0711";
    if (::mkdir(root().c_str(), 0711) < 0 ||
        ::mount("tmpfs", root().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) < 0) {
      *error = "mount a tmpfs on " + root() + ": " + std::strerror(errno);
      return false;
    }
    root_mounted_ = true;
  }
  // Own network namespace (kept across restarts, so a restarted daemon
  // finds what the last one left): its containers never touch the host's.
  if (netns_holder_ < 0) netns_holder_ = make_daemon_netns();
  if (netns_holder_ < 0) {
    *error = "make a network namespace for berthd: " + std::string(std::strerror(errno));
    return false;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    if (::setns(netns_holder_, CLONE_NEWNET) < 0) _exit(90);
    if (loopback_up_) {
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) _exit(92);
      ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
      if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) _exit(92);
      ::close(s);
    }
    if (fd_limit_ > 0) {
      rlimit rl{fd_limit_, fd_limit_};
      if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) _exit(91);
    }
    if (root_tmpfs_mib_ > 0) {
      std::string size = "size=" + std::to_string(root_tmpfs_mib_) + "m";
      if (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
          ::mkdir(root().c_str(), 0711) < 0 || ::mount("tmpfs", root().c_str(), "tmpfs", 0, size.c_str()) < 0)
        _exit(91);
    }
    int fd = ::open(logf.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::dup2(fd, 1);
    }
    std::string bin = binary_.empty() ? bin_path("berthd") : binary_;
    std::string root_flag = "--root=" + root(), exec_flag = "--exec-root=" + dir_ + "/exec";
    std::string cg_flag = "--cgroup-parent=" + cgroup_parent();
    std::vector<const char*> argv{"berthd", root_flag.c_str(), exec_flag.c_str(), cg_flag.c_str(), "--log-level=debug"};
    argv.push_back(live_restore_ ? "--live-restore" : "--no-live-restore");
    for (const auto& a : extra_args_) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  // Wait for the socket to answer /_ping: bounded by attempts, not by time.
  for (int i = 0; i < 1000; i++) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "berthd exited during start-up: " + log();
      return false;
    }
    auto c = ipc::Client::connect(host());
    if (c) {
      auto r = c->request("GET", "/_ping");
      if (r && r->status == 200) return true;
    }
    ::usleep(10000);
  }
  *error = "berthd did not answer /_ping: " + log();
  return false;
}

std::string TestDaemon::root_view() const {
  if (root_tmpfs_mib_ > 0 && pid_ > 0) return "/proc/" + std::to_string(pid_) + "/root" + root();
  return root();
}

std::vector<std::string> TestDaemon::leftover_cgroups() const {
  std::vector<std::string> out;
  auto text = read_file("/proc/self/cgroup");
  if (!text) return out;
  for (const auto& line : split(*text, '\n')) {
    auto parts = split(line, ':');
    if (parts.size() < 3 || parts[1].empty() || starts_with(parts[1], "name=")) continue;
    std::string self = parts[2] == "/" ? "" : parts[2];
    std::string dir = "/sys/fs/cgroup/" + parts[1] + self + "/" + cgroup_parent();
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] != '.') out.push_back(parts[1] + ":" + e->d_name);
    ::closedir(d);
  }
  return out;
}

int TestDaemon::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000; i++) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // A clean stop leaves no container cgroup behind.
      auto left = leftover_cgroups();
      if (rc == 0 && !left.empty() && !live_restore_) {   // live restore: they run on
        std::string l = log();
        std::fprintf(stderr, "berthd stopped but left %zu cgroups (%s ...); its log ends:\n%s\n", left.size(),
                     left[0].c_str(), l.substr(l.size() > 8000 ? l.size() - 8000 : 0).c_str());
        return kLeftCgroups;
      }
      return rc;
    }
    ::usleep(10000);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return 128 + SIGKILL;
}

void TestDaemon::crash() {
  crash_daemon_only();
  (void)kill_keeper();
}

void TestDaemon::crash_daemon_only() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

pid_t TestDaemon::keeper_pid() const {
  auto text = read_file(dir_ + "/exec/keeper.pid");
  if (!text) return 0;
  pid_t pid = pid_t(std::atoi(text->c_str()));
  // Still that keeper (a pid is reused only after it is reaped).
  return pid > 0 && comm_of(pid) == "berth:keeper" ? pid : 0;
}

bool TestDaemon::kill_keeper() {
  pid_t pid = keeper_pid();
  if (pid <= 0) return true;
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return true;
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  pollfd p{pidfd, POLLIN, 0};
  bool gone = ::poll(&p, 1, 10000) == 1;
  // Our child only if no berthd forked it: then ours to reap.
  ::waitpid(pid, nullptr, WNOHANG);
  ::close(pidfd);
  return gone;
}

std::string TestDaemon::log() const {
  auto t = read_file(dir_ + "/berthd.log");
  return t ? *t : "";
}

bool TestDaemon::wait_log(const std::string& needle) const {
  for (int i = 0; i < 3000; i++) {
    if (log().find(needle) != std::string::npos) return true;
    ::usleep(10000);
  }
  return false;
}

ipc::Client TestDaemon::client() {
  auto c = ipc::Client::connect(host());
  if (!c) std::abort();
  return std::move(*c);
}

bool TestDaemon::import_busybox(std::string* error) {
  auto c = client();
  int fd = ::open(BERTH_BUSYBOX_TAR, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("open ") + BERTH_BUSYBOX_TAR + ": " + std::strerror(errno);
    return false;
  }
  auto r = c.upload("POST", "/images/create?fromSrc=-&repo=busybox:latest", fd, "application/x-tar");
  ::close(fd);
  if (!r || r->status != 200) {
    *error = r ? r->body : r.error().message();
    return false;
  }
  return true;
}

CommandResult TestDaemon::ctl(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {bin_path("berthctl"), "-H", host()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input);
}

std::string TestDaemon::raw(const std::string& bytes, size_t max_bytes) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket().c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    ::close(fd);
    return "";
  }
  // The daemon may answer and close before reading everything (413): stop
  // sending then, without SIGPIPE.
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += size_t(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[65536];
  while (out.size() < max_bytes) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) break;  // a bound against a hung test, not an assertion
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  ::close(fd);
  return out;
}

int TestDaemon::open_fds() const {
  int n = 0;
  DIR* d = ::opendir(fmt::format("/proc/{}/fd", pid_).c_str());
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}


std::map<std::string, pid_t> TestDaemon::warm_inits() const {
  std::map<std::string, pid_t> out;
  const std::string text = log();
  const std::string key = "warm init id=";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    std::string id = text.substr(at + key.size(), 64);
    size_t p = text.find(" pid=", at);
    if (p == std::string::npos) continue;
    pid_t pid = pid_t(std::atoi(text.c_str() + p + 5));
    std::string dir = root() + "/containers/" + id;
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0 || ::stat((dir + "/config.v2.json").c_str(), &st) == 0) continue;
    if (comm_of(pid) == "berth:warm") out[id] = pid;
  }
  return out;
}

bool TestDaemon::wait_warm_quiet() const {
  auto quiet = [this] {
    auto warm = warm_inits();
    DIR* d = ::opendir((root() + "/containers").c_str());
    if (!d) return true;
    bool ok = true;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      struct stat st;
      std::string state = root() + "/containers/" + e->d_name + "/config.v2.json";
      if (::stat(state.c_str(), &st) < 0 && !warm.count(e->d_name)) ok = false;
    }
    ::closedir(d);
    return ok;
  };
  int in_a_row = 0;
  for (int i = 0; i < 500 && in_a_row < 2; i++) {
    in_a_row = quiet() ? in_a_row + 1 : 0;
    ::usleep(20000);
  }
  return in_a_row >= 2;
}

int TestDaemon::child_processes() const {
  int n = 0;
  pid_t keeper = keeper_pid();
  DIR* d = ::opendir("/proc");
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    auto stat = read_file(fmt::format("/proc/{}/stat", e->d_name));
    if (!stat) continue;
    auto rp = stat->rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream in(stat->substr(rp + 2));
    std::string state;
    int ppid = 0;
    in >> state >> ppid;
    std::string comm = comm_of(pid_t(std::atoi(e->d_name)));
    n += (ppid == pid_ || (keeper > 0 && ppid == keeper)) && comm != "berth:warm" && comm != "berth:keeper";
  }
  ::closedir(d);
  return n;
}

int TestDaemon::mounts_under(const std::string& prefix) const {
  auto text = read_file(fmt::format("/proc/{}/mountinfo", pid_ > 0 ? pid_ : ::getpid()));
  if (!text) return -1;
  int n = 0;
  for (const auto& line : split(*text, '\n')) n += line.find(prefix) != std::string::npos;
  return n;
}

int TestDaemon::container_dirs() const {
  int n = 0;
  DIR* d = ::opendir((root() + "/containers").c_str());
  if (!d) return 0;
  auto warm = warm_inits();
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.' && !warm.count(e->d_name);
  ::closedir(d);
  return n;
}

}  // namespace berth::test
