// Real clients against a real berthd: docker-py (Debian's python3-docker),
// docker-compose 1.29 (Debian), dockerode and testcontainers (npm, in
// tests/clients/node, installed by tools/setup), and the docker CLI's
// binary stdin. Each client is skipped with a message where it is missing.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

const std::string kClients = std::string(BERTH_SOURCE_DIR) + "/tests/clients";

class Clients : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root()) return;
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
    ASSERT_TRUE(daemon_) << error_;
  }
  std::vector<std::string> env() const {
    // compose's run without the docker CLI (COMPOSE_INTERACTIVE_NO_CLI)
    // attaches only after the start (dockerpty's lazy sockets), so a
    // command faster than that attach loses its output, with Docker too;
    // with the CLI it runs `docker start --attach`, which attaches first.
    std::vector<std::string> e = {"DOCKER_HOST=" + daemon_->host(), "DOCKER_CONFIG=" + daemon_->dir() + "/docker-config",
                                  "TESTCONTAINERS_RYUK_DISABLED=true"};
    if (!have_program("docker")) e.push_back("COMPOSE_INTERACTIVE_NO_CLI=1");
    return e;
  }
  CommandResult run(std::vector<std::string> argv, const std::string& input = "") { return run_command(argv, input, env()); }
  CommandResult compose(std::vector<std::string> args) {
    std::vector<std::string> argv = {"docker-compose", "--no-ansi", "-p", "berthc", "-f",
                                     kClients + "/compose/docker-compose.yml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string error_;
};

TEST_F(Clients, DockerPy) {
  if (run({"/usr/bin/python3", "-c", "import docker"}).exit_code != 0)
    GTEST_SKIP() << "no python3-docker (tools/setup installs it)";
  auto r = run({"/usr/bin/python3", kClients + "/docker_py_test.py"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << daemon_->log().substr(daemon_->log().size() > 4000 ? daemon_->log().size() - 4000 : 0);
  EXPECT_THAT(r.out, HasSubstr("all checks passed"));
}

TEST_F(Clients, DockerCompose) {
  if (!have_program("docker-compose")) GTEST_SKIP() << "no docker-compose (tools/setup installs it)";
  auto up = compose({"up", "-d"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  auto ps = compose({"ps"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  // Each service once (a label filter that ORed the project's labels listed
  // every container of every service twice).
  EXPECT_EQ(std::count(ps.out.begin(), ps.out.end(), '\n'), 4) << ps.out;
  EXPECT_THAT(ps.out, HasSubstr("berthc_db_1"));
  EXPECT_THAT(ps.out, HasSubstr("berthc_worker_1"));
  auto logs = compose({"logs", "--no-color"});
  EXPECT_THAT(logs.out, HasSubstr("db up"));
  EXPECT_THAT(logs.out, HasSubstr("worker up"));
  // exec runs in the service named, and only there.
  auto exec = compose({"exec", "-T", "db", "cat", "/data/seed"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out, "data\n");
  auto wexec = compose({"exec", "-T", "worker", "test", "-e", "/data/seed"});
  EXPECT_NE(wexec.exit_code, 0);
  // The services share the project's network and find each other by name.
  auto ping = compose({"exec", "-T", "worker", "ping", "-c", "1", "-W", "5", "db"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  auto once = compose({"run", "--rm", "-T", "db", "cat", "/data/seed"});
  EXPECT_EQ(once.exit_code, 0) << once.err;
  EXPECT_THAT(once.out, HasSubstr("data")) << once.err << daemon_->log().substr(daemon_->log().size() > 4000 ? daemon_->log().size() - 4000 : 0);
  // The one-off container is gone; the service containers are untouched.
  auto after = compose({"ps", "-q"});
  EXPECT_EQ(std::count(after.out.begin(), after.out.end(), '\n'), 2) << after.out;
  auto again = compose({"up", "-d"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("berthc_db_1 is up-to-date"));
  EXPECT_THAT(again.err, HasSubstr("berthc_worker_1 is up-to-date"));
  auto down = compose({"down", "-v"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_THAT(run({"docker", "network", "ls"}).out, ::testing::Not(HasSubstr("berthc_default")));
  auto vols = run({"docker", "volume", "ls", "-q"});
  EXPECT_THAT(vols.out, ::testing::Not(HasSubstr("berthc_dbdata")));
  EXPECT_EQ(compose({"ps", "-q"}).out, "");
}

TEST_F(Clients, Dockerode) {
  if (!std::filesystem::exists(kClients + "/node/node_modules/dockerode") || !have_program("node"))
    GTEST_SKIP() << "no node or dockerode (tools/setup runs npm ci in tests/clients/node)";
  auto r = run({"node", kClients + "/node/dockerode_test.js"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("all checks passed"));
}

TEST_F(Clients, Testcontainers) {
  if (!std::filesystem::exists(kClients + "/node/node_modules/testcontainers") || !have_program("node"))
    GTEST_SKIP() << "no node or testcontainers (tools/setup runs npm ci in tests/clients/node)";
  // In berthd's network namespace: the mapped port is served there.
  std::vector<std::string> argv = {"env"};
  for (const auto& e : env()) argv.push_back(e);
  argv.insert(argv.end(), {"node", kClients + "/node/testcontainers_test.js"});
  auto r = daemon_->host_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("all checks passed"));
}

// Without a tty, stdin is data: the detach keys (ctrl-p ctrl-q, 0x10 0x11)
// of a terminal must not cut a binary stream short.
TEST_F(Clients, DockerCliBinaryStdinRunAndExec) {
  if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine";
  std::string data;
  data.reserve(10000000);
  uint32_t x = 12345;
  while (data.size() < 10000000) {
    x = x * 1103515245 + 12345;
    data.push_back(char(x >> 16));
  }
  data.replace(1000, 4, "\x10\x11\x10\x11");
  auto r = run({"docker", "run", "-i", "--rm", "busybox", "sh", "-c", "cat > /f; wc -c < /f"}, data);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "10000000\n");
  ASSERT_EQ(run({"docker", "run", "-d", "--name", "stdin-exec", "busybox", "sleep", "100"}).exit_code, 0);
  auto e = run({"docker", "exec", "-i", "stdin-exec", "sh", "-c", "cat > /f; wc -c < /f"}, data);
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, "10000000\n");
  run({"docker", "rm", "-f", "stdin-exec"});
}

}  // namespace
}  // namespace berth::test
