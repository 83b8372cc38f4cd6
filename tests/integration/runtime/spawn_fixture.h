// SpawnTest: the fixture of the runtime's real-container tests (spawn_test.cc,
// netns_test.cc): a busybox image in a temp dir (plus berth-testinit when it
// is built next to the test binary), one temp dir per test for the
// containers' upper/work/rootfs dirs, and helpers that run a container to
// its exit. Needs root; skips otherwise. Each test checks that no mount
// under its temp dir is left on the host.
//
// Test-only; the thread running the test. Containers are reaped before the
// helpers return.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/runtime/spawn.h"

namespace berth::runtime::spawn_testing {

namespace stdfs = std::filesystem;

inline const char* const kApplets[] = {"sh",    "echo", "ls", "id",  "hostname", "cat",      "true", "sleep", "pwd",
                                       "touch", "grep", "wc", "env", "mkdir",    "readlink", "test", "stat",
                                       "tty",   "stty"};

inline std::string testinit_path() {
  if (const char* e = std::getenv("BERTH_TESTINIT")) return e;
  std::error_code ec;
  auto self = stdfs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : (self.parent_path() / "berth-testinit").string();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string read_text(const std::string& path) {
  auto r = read_file(path);
  return r ? *r : "<" + r.error().message() + ">";
}

// Lines of /proc/self/mountinfo that mention `dir`.
inline std::vector<std::string> host_mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(in, line);)
    if (line.find(dir) != std::string::npos) out.push_back(line);
  return out;
}

// Whether the "SigBlk:" line of a /proc/<pid>/status text (bit n - 1 for
// signal n) blocks `sig`.
inline bool blocks_signal(const std::string& status, int sig) {
  auto at = status.find("SigBlk:\t");
  if (at == std::string::npos) return false;
  return (std::stoull(status.substr(at + 8, 16), nullptr, 16) >> (sig - 1)) & 1;
}

struct Outcome {
  Result<void> exec;
  std::string out, err;
  ExitStatus status{-1, -1};
};

class SpawnTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    char tmpl[] = "/tmp/berth-rt-image-XXXXXX";
    image_root_ = ::mkdtemp(tmpl);
    image_ = image_root_ + "/layer0";
    stdfs::create_directories(image_ + "/bin");
    stdfs::create_directories(image_ + "/etc");
    stdfs::create_directories(image_ + "/home/alice");
    stdfs::copy_file("/bin/busybox", image_ + "/bin/busybox");
    for (const char* a : kApplets) stdfs::create_symlink("busybox", image_ + "/bin/" + a);
    std::string ti = testinit_path();
    if (!ti.empty() && stdfs::exists(ti)) stdfs::copy_file(ti, image_ + "/bin/berth-testinit");
    write_text(image_ + "/etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n");
    write_text(image_ + "/etc/group", "root:x:0:root\nwheel:x:10:root\nstaff:x:50:alice\nalice:x:1000:\n");
    write_text(image_ + "/etc/motd", "bottom\n");
  }
  static void TearDownTestSuite() {
    if (!image_root_.empty()) (void)remove_tree(image_root_);
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/berth-rt-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    spec_ = container_spec("c");
  }
  void TearDown() override {
    if (dir_.empty()) return;
    EXPECT_EQ(host_mounts_under(dir_), std::vector<std::string>{}) << "mounts left on the host";
    EXPECT_TRUE(remove_tree(dir_));
  }

  Spec container_spec(const std::string& name) {
    Spec s;
    s.id = random_id();
    std::string c = dir_ + "/" + name;
    for (const char* d : {"upper", "work", "rootfs"}) stdfs::create_directories(c + "/" + d);
    s.lower_dirs = {image_};
    s.upper_dir = c + "/upper";
    s.work_dir = c + "/work";
    s.rootfs_dir = c + "/rootfs";
    s.env = {"PATH=/bin", "TERM=dumb"};
    s.hostname = "berth-test";
    return s;
  }

  // spawn + release + wait_exec, collects stdout/stderr until EOF, reaps.
  // `before_release` runs between spawn() and release(), as the engine's
  // cgroup and network setup does.
  Outcome run(Spec spec, const std::string* input = nullptr,
              const std::function<void(const Process&)>& before_release = {}) {
    Outcome o;
    int out[2], err[2], in[2] = {-1, -1};
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    if (input) {
      EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    }
    unique_fd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]), in_r(in[0]), in_w(in[1]);
    spec.stdout_fd = out_w.get();
    spec.stderr_fd = err_w.get();
    spec.stdin_fd = in_r.get();
    auto p = spawn(spec);
    if (!p) {
      o.exec = p.error();
      return o;
    }
    out_w.reset();
    err_w.reset();
    in_r.reset();
    if (before_release) before_release(*p);
    EXPECT_TRUE(release(*p));
    if (input) {
      EXPECT_TRUE(write_all(in_w.get(), *input));
    }
    in_w.reset();
    o.exec = wait_exec(*p, spec);
    drain(out_r.get(), err_r.get(), &o, p->pidfd.get());
    o.status = wait_exit(p->pidfd.get());
    return o;
  }

  // A deferred spawn of `warm` (a warm init), released as `final` with its
  // own stdio, then as run().
  Outcome run_deferred(Spec warm, Spec final) {
    Outcome o;
    warm.deferred = true;
    auto p = spawn(warm);
    if (!p) {
      o.exec = p.error();
      return o;
    }
    int out[2], err[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    unique_fd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
    final.stdout_fd = out_w.get();
    final.stderr_fd = err_w.get();
    auto released = release(*p, final);
    EXPECT_TRUE(released) << released.error().message();
    out_w.reset();
    err_w.reset();
    if (!released) (void)kill(p->pidfd.get(), SIGKILL);
    o.exec = released ? wait_exec(*p, final) : released;
    drain(out_r.get(), err_r.get(), &o, p->pidfd.get());
    o.status = wait_exit(p->pidfd.get());
    return o;
  }

  static void drain(int out, int err, Outcome* o, int pidfd) {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    std::string* dst[2] = {&o->out, &o->err};
    int open = 2;
    while (open > 0) {
      int n = ::poll(fds, 2, 20000);
      if (n <= 0) {
        ADD_FAILURE() << "container output did not end within 20s";
        (void)kill(pidfd, SIGKILL);
        return;
      }
      for (int i = 0; i < 2; i++) {
        if (fds[i].fd < 0 || !fds[i].revents) continue;
        char buf[4096];
        ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
        if (r > 0) dst[i]->append(buf, size_t(r));
        if (r <= 0) fds[i].fd = -1, open--;
      }
    }
  }

  static ExitStatus wait_exit(int pidfd) {
    pollfd p{pidfd, POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) {
      ADD_FAILURE() << "container did not exit within 20s";
      (void)kill(pidfd, SIGKILL);
      ::poll(&p, 1, 5000);
    }
    auto st = reap(pidfd);
    EXPECT_TRUE(st && st->has_value());
    return st && st->has_value() ? **st : ExitStatus{-1, -1};
  }

  Outcome sh(const std::string& script) {
    Spec s = spec_;
    s.args = {"sh", "-c", script};
    return run(s);
  }

  bool have_testinit() const { return stdfs::exists(image_ + "/bin/berth-testinit"); }

  static inline std::string image_root_, image_;
  std::string dir_;
  Spec spec_;
};

}  // namespace berth::runtime::spawn_testing

#define EXPECT_RAN(o) EXPECT_TRUE((o).exec) << (o).exec.error().message() << "\nstderr: " << (o).err
