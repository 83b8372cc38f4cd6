// Interactive terminals as a person uses them: berthctl and the real docker
// CLI run inside tmux (a real terminal emulator with a pty), keys are typed
// with send-keys and the assertions read the screen. Covers run -it, the
// window size and a resize, detaching with ctrl-p ctrl-q, attach, exec -it
// and the exit code of `exit N`. Screens are polled until the expected text
// shows (bounded, 30 s per step): nothing here measures time.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/strings.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

// One tmux server on its own socket, with no config and no status line, so
// a pane is exactly its window's size. Killed (with everything it runs) at
// destruction.
class Tmux {
 public:
  explicit Tmux(std::string socket) : socket_(std::move(socket)) {}
  ~Tmux() { tmux({"kill-server"}); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  // Runs `command` in a new session of cols x rows; when it ends, the pane
  // shows "EXIT=<code>" and stays open.
  bool session(const std::string& name, const std::string& command, int cols, int rows) {
    auto r = tmux({"new-session", "-d", "-s", name, "-x", std::to_string(cols), "-y", std::to_string(rows),
                   command + "; echo EXIT=$?; sleep 600"});
    if (r.exit_code != 0) return false;
    tmux({"set-option", "-g", "status", "off"});
    return true;
  }
  void type(const std::string& name, const std::string& text) {
    tmux({"send-keys", "-t", name, "-l", text});
    tmux({"send-keys", "-t", name, "Enter"});
  }
  void keys(const std::string& name, const std::vector<std::string>& keys) {
    std::vector<std::string> args = {"send-keys", "-t", name};
    args.insert(args.end(), keys.begin(), keys.end());
    tmux(args);
  }
  void resize(const std::string& name, int cols, int rows) {
    tmux({"resize-window", "-t", name, "-x", std::to_string(cols), "-y", std::to_string(rows)});
  }
  std::string screen(const std::string& name) { return tmux({"capture-pane", "-p", "-t", name}).out; }
  // Polls the screen until it contains `text`; returns the last screen.
  bool wait_for(const std::string& name, const std::string& text, std::string* last) {
    for (int i = 0; i < 600; i++) {
      *last = screen(name);
      if (last->find(text) != std::string::npos) return true;
      ::usleep(50000);
    }
    return false;
  }

 private:
  CommandResult tmux(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-S", socket_, "-f", "/dev/null"});
    return run_command(args);
  }
  std::string socket_;
};

class Terminal : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || !have_program("tmux")) return;
    daemon_ = std::make_unique<TestDaemon>();
    std::string err;
    if (!daemon_->start(&err) || !daemon_->import_busybox(&err)) {
      error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
    }
    daemon_.reset();
  }
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    if (!have_program("tmux")) GTEST_SKIP() << "no tmux on this machine";
    ASSERT_TRUE(daemon_) << error_;
    tmux_ = std::make_unique<Tmux>(daemon_->dir() + "/tmux-" + random_id().substr(0, 8));
  }
  void TearDown() override { tmux_.reset(); }

  std::string berthctl() const { return bin_path("berthctl") + " -H " + daemon_->host(); }
  std::string docker() const {
    return "env DOCKER_HOST=" + daemon_->host() + " DOCKER_CONFIG=" + daemon_->dir() + "/docker-config docker";
  }
  bool running(const std::string& name) {
    auto r = daemon_->ctl({"inspect", "--format", "{{.State.Running}}", name});
    return r.out == "true\n";
  }
  void remove(const std::string& name) { daemon_->ctl({"rm", "-f", name}); }

  // The whole interactive story with one client: run -it with the window's
  // size, a resize, detach, re-attach, exec -it, and exit with a code.
  void interactive_story(const std::string& cli, const std::string& name, int attach_detach_exit) {
    Tmux& t = *tmux_;
    std::string s;
    ASSERT_TRUE(t.session("run", cli + " run -it --name " + name + " busybox sh", 100, 30));
    ASSERT_TRUE(t.wait_for("run", "/ #", &s)) << s;
    t.type("run", "tty; stty size; echo m-$((6*7))");
    ASSERT_TRUE(t.wait_for("run", "m-42", &s)) << s;
    EXPECT_THAT(s, HasSubstr("/dev/pts/0\n30 100\n"));
    // A resize reaches the container as SIGWINCH through the client; ask
    // until the new size shows (the client forwards it asynchronously).
    t.resize("run", 120, 40);
    bool resized = false;
    for (int i = 0; i < 20 && !resized; i++) {
      t.type("run", "clear; stty size");
      resized = t.wait_for("run", "40 120", &s);
    }
    EXPECT_TRUE(resized) << s;
    // ctrl-p ctrl-q: the client leaves with 0, the container runs on.
    t.keys("run", {"C-p", "C-q"});
    ASSERT_TRUE(t.wait_for("run", "EXIT=0", &s)) << s;
    EXPECT_TRUE(running(name));

    // exec -it: a second terminal in the same container.
    ASSERT_TRUE(t.session("exec", cli + " exec -it " + name + " sh", 90, 25));
    ASSERT_TRUE(t.wait_for("exec", "/ #", &s)) << s;
    t.type("exec", "tty; stty size; exit 4");
    ASSERT_TRUE(t.wait_for("exec", "EXIT=4", &s)) << s;
    EXPECT_THAT(s, HasSubstr("/dev/pts/1\n25 90\n"));

    // attach: the same shell, at the new terminal's size; detach again
    // (attach reports the detach like docker: "read escape sequence").
    ASSERT_TRUE(t.session("attach", cli + " attach " + name, 80, 20));
    t.type("attach", "echo a-$((2+3)); stty size");
    ASSERT_TRUE(t.wait_for("attach", "a-5\n20 80", &s)) << s;
    t.keys("attach", {"C-p", "C-q"});
    ASSERT_TRUE(t.wait_for("attach", "EXIT=" + std::to_string(attach_detach_exit), &s)) << s;
    EXPECT_TRUE(running(name));

    // attach once more and end the shell: the client exits with its code.
    ASSERT_TRUE(t.session("end", cli + " attach " + name, 80, 20));
    t.type("end", "echo e-$((3+4)); exit 3");
    ASSERT_TRUE(t.wait_for("end", "EXIT=3", &s)) << s;
    EXPECT_THAT(s, HasSubstr("e-7"));
    EXPECT_FALSE(running(name));
    remove(name);
  }

  std::unique_ptr<Tmux> tmux_;
  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string error_;
};

TEST_F(Terminal, BerthctlRunItResizeDetachAttachExec) { interactive_story(berthctl(), "tty-berthctl", 1); }

TEST_F(Terminal, DockerRunItResizeDetachAttachExec) {
  if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine";
  interactive_story(docker(), "tty-docker", 1);
}

// ctrl-c in the terminal is the container's: it interrupts the foreground
// command inside, not the client.
TEST_F(Terminal, CtrlCReachesTheContainer) {
  Tmux& t = *tmux_;
  std::string s;
  ASSERT_TRUE(t.session("c", berthctl() + " run -it --rm --name ctrl-c busybox sh", 100, 30));
  ASSERT_TRUE(t.wait_for("c", "/ #", &s)) << s;
  t.type("c", "sleep 1000");
  // The sleep must be the terminal's foreground job before ctrl-c: sent
  // while the shell still reads its line, the interrupt is the shell's.
  bool sleeping = false;
  for (int i = 0; i < 400 && !sleeping; i++) {
    sleeping = daemon_->ctl({"exec", "ctrl-c", "pidof", "sleep"}).exit_code == 0;
    if (!sleeping) ::usleep(50000);
  }
  ASSERT_TRUE(sleeping);
  t.keys("c", {"C-c"});
  t.type("c", "echo after-$((1+1))");
  ASSERT_TRUE(t.wait_for("c", "after-2", &s)) << s;
  t.type("c", "exit 9");
  ASSERT_TRUE(t.wait_for("c", "EXIT=9", &s)) << s;
}

}  // namespace
}  // namespace berth::test
