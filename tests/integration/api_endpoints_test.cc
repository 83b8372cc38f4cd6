// The control socket and TCP endpoints (the robustness issue's item 5): the
// Unix socket is 0660 root:<group>; -H tcp:// is served only with mutual
// TLS (--tlsverify and its three files) or the explicit --insecure-tcp;
// a client without a certificate signed by --tlscacert is refused; TLS
// clients that stall, speak plain HTTP or leave a stream mid-way do not
// hurt berthd; the docker CLI's --tlsverify works against it.
//
// berthd listens on 127.0.0.1 inside its own network namespace (TestDaemon
// makes one and brings its lo up); clients run there through nsenter.
// Certificates are made by the test with the openssl CLI.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAddr = "127.0.0.1:2376";
constexpr uint16_t kPort = 2376;

// A TCP connection to kAddr in `pid`'s network namespace: made by a thread
// that enters it (a socket stays in the namespace it was made in), so the
// test's own threads never change namespace. -1 on failure. Reads time out
// after 30 s (a bound against a hung test, not an assertion).
int connect_in_netns(pid_t pid) {
  int fd = -1;
  std::thread t([&] {
    int ns = ::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return;
    bool entered = ::setns(ns, CLONE_NEWNET) == 0;
    ::close(ns);
    if (!entered) return;
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
      ::close(s);
      return;
    }
    timeval tv{30, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    fd = s;
  });
  t.join();
  return fd;
}

// Reads until the peer closes; the bytes read (or -1 on a read error or
// the time bound).
ssize_t read_to_end(int fd) {
  char buf[4096];
  ssize_t total = 0, n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) total += n;
  return n == 0 ? total : -1;
}

class ApiEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    if (!have_program("openssl") || !have_program("curl") || !have_program("nsenter"))
      GTEST_SKIP() << "needs the openssl, curl and nsenter programs (tools/setup installs them)";
    char tmpl[] = "/tmp/berth-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    certs_ = tmpl;
  }
  void TearDown() override {
    if (!certs_.empty()) (void)remove_tree(certs_);
  }

  std::string path(const std::string& name) const { return certs_ + "/" + name; }
  void write(const std::string& name, const std::string& text) { std::ofstream(path(name)) << text; }
  void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run_command(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A CA `ca`, and a key and certificate `name` signed by it with `ext`.
  void make_ca(const std::string& ca) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             path(ca + "-key.pem"), "-out", path(ca + ".pem"), "-days", "2", "-subj", "/CN=" + ca});
  }
  void make_cert(const std::string& ca, const std::string& name, const std::string& ext) {
    write(name + ".ext", ext);
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             path(name + "-key.pem"), "-out", path(name + ".csr"), "-subj", "/CN=" + name});
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey", path(ca + "-key.pem"),
             "-set_serial", std::to_string(1000 + serial_++), "-out", path(name + "-cert.pem"), "-days", "2",
             "-extfile", path(name + ".ext")});
  }
  // The server's and a client's certificates from one CA, and a client's
  // from another CA berthd does not trust.
  void make_certs() {
    make_ca("ca");
    make_cert("ca", "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    make_cert("ca", "client", "extendedKeyUsage=clientAuth\n");
    make_ca("rogue-ca");
    make_cert("rogue-ca", "rogue", "extendedKeyUsage=clientAuth\n");
  }
  std::vector<std::string> tls_flags() {
    return {"--tlsverify", "--tlscacert=" + path("ca.pem"), "--tlscert=" + path("server-cert.pem"),
            "--tlskey=" + path("server-key.pem")};
  }
  // Starts `d` listening on its Unix socket and tcp://kAddr with `flags`.
  void start(TestDaemon& d, std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"-H", d.host(), "-H", std::string("tcp://") + kAddr});
    d.set_extra_args(flags);
    d.set_loopback_up(true);
    std::string err;
    ASSERT_TRUE(d.start(&err)) << err;
  }
  // Runs argv in berthd's network namespace.
  CommandResult in_netns(const TestDaemon& d, std::vector<std::string> argv, std::vector<std::string> env = {},
                         const std::string& input = "") {
    argv.insert(argv.begin(), {"nsenter", "--net=/proc/" + std::to_string(d.pid()) + "/ns/net"});
    return run_command(argv, input, env);
  }
  // curl over TLS, with the client certificate `client` ("" for none).
  CommandResult curl_tls(const TestDaemon& d, const std::string& client, const std::string& target,
                         std::vector<std::string> more = {}) {
    std::vector<std::string> argv{"curl", "-sS", "--max-time", "60", "--cacert", path("ca.pem")};
    if (!client.empty())
      argv.insert(argv.end(), {"--cert", path(client + "-cert.pem"), "--key", path(client + "-key.pem")});
    argv.insert(argv.end(), more.begin(), more.end());
    argv.push_back(std::string("https://") + kAddr + target);
    return in_netns(d, argv);
  }

  std::string certs_;
  int serial_ = 0;
};

TEST_F(ApiEndpointsTest, UnixSocketIsOwnerAndGroupOnly) {
  group* g = ::getgrnam("daemon");
  if (!g) GTEST_SKIP() << "no group daemon on this machine";
  gid_t gid = g->gr_gid;
  TestDaemon d;
  d.set_extra_args({"--group=daemon"});
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  struct stat st {};
  ASSERT_EQ(::stat(d.socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(d.stop(), 0);

  // A group that does not exist: the socket stays root:root, and says so.
  TestDaemon n;
  n.set_extra_args({"--group=berth-no-such-group"});
  ASSERT_TRUE(n.start(&err)) << err;
  ASSERT_EQ(::stat(n.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_TRUE(n.wait_log("no group berth-no-such-group")) << n.log();
  EXPECT_EQ(n.stop(), 0);
}

// Plain TCP, and TLS flags that are incomplete or useless, stop berthd at
// start with a message naming what is missing.
TEST_F(ApiEndpointsTest, PlainTcpAndHalfTlsAreRefused) {
  make_certs();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"-H", "tcp://127.0.0.1:2376"}, "refusing plain TCP"},
      {{"-H", "tcp://127.0.0.1:2376", "--tlsverify"}, "--tlsverify needs --tlscacert, --tlscert and --tlskey"},
      {{"-H", "tcp://127.0.0.1:2376", "--tlscert=" + path("server-cert.pem"), "--tlskey=" + path("server-key.pem")},
       "need --tlsverify"},
      {{"--tlsverify", "--tlscacert=" + path("ca.pem"), "--tlscert=" + path("server-cert.pem"),
        "--tlskey=" + path("server-key.pem")},
       "applies to tcp:// endpoints only"},
      {{"-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert=" + path("ca.pem"),
        "--tlscert=" + path("server-cert.pem"), "--tlskey=" + path("client-key.pem")},
       "the key of --tlscert"},
  };
  for (const Case& c : cases) {
    TestDaemon d;
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"-H", d.host()});
    d.set_extra_args(args);
    d.set_loopback_up(true);
    std::string err;
    EXPECT_FALSE(d.start(&err)) << c.message;
    EXPECT_THAT(err, HasSubstr(c.message));
  }
}

TEST_F(ApiEndpointsTest, MutualTls) {
  make_certs();
  TestDaemon d;
  start(d, tls_flags());
  std::string err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;

  auto ping = curl_tls(d, "client", "/_ping");
  EXPECT_EQ(ping.exit_code, 0) << ping.err;
  EXPECT_EQ(ping.out, "OK");

  // No client certificate, or one from a CA berthd does not trust: no
  // answer, and berthd says why.
  auto anonymous = curl_tls(d, "", "/_ping");
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_EQ(anonymous.out, "");
  auto rogue = curl_tls(d, "rogue", "/_ping");
  EXPECT_NE(rogue.exit_code, 0);
  EXPECT_EQ(rogue.out, "");
  EXPECT_TRUE(d.wait_log("TLS connection refused")) << d.log();
  // Plain HTTP on the TLS port gets no HTTP answer.
  auto plain = in_netns(d, {"curl", "-sS", "--max-time", "60", std::string("http://") + kAddr + "/_ping"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_THAT(plain.out, Not(HasSubstr("OK")));

  // A long streamed response (an image archive, many TLS records) comes
  // whole: the same bytes as over the Unix socket.
  auto over_tls = curl_tls(d, "client", "/images/busybox/get", {"-o", path("tls.tar")});
  ASSERT_EQ(over_tls.exit_code, 0) << over_tls.err;
  auto local = run_command({"curl", "-sS", "--max-time", "60", "--unix-socket", d.socket(), "-o", path("unix.tar"),
                            "http://berth/images/busybox/get"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  auto tls_tar = read_file(path("tls.tar")), unix_tar = read_file(path("unix.tar"));
  ASSERT_TRUE(tls_tar && unix_tar);
  EXPECT_GT(unix_tar->size(), 100000u);
  EXPECT_EQ(tls_tar->size(), unix_tar->size());
  EXPECT_TRUE(*tls_tar == *unix_tar);

  // A request body over TLS (create), several requests on one connection.
  auto create = curl_tls(d, "client", "/containers/create?name=overtls",
                         {"-H", "Content-Type: application/json", "-d", R"({"Image":"busybox","Cmd":["true"]})"});
  EXPECT_EQ(create.exit_code, 0) << create.err;
  EXPECT_THAT(create.out, HasSubstr("\"Id\""));
  auto two = curl_tls(d, "client", "/_ping", {"--next", "--cacert", path("ca.pem"), "--cert",
                                              path("client-cert.pem"), "--key", path("client-key.pem"),
                                              std::string("https://") + kAddr + "/containers/overtls/json"});
  EXPECT_EQ(two.exit_code, 0) << two.err;
  EXPECT_THAT(two.out, HasSubstr("\"Name\":\"/overtls\""));
  EXPECT_EQ(d.ctl({"rm", "-f", "overtls"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

// No TLS input takes berthd down: a handshake that stalls is cut by
// --header-timeout, plain HTTP on the TLS port is closed, and TLS clients
// that leave a long streamed response at any byte (gracefully or with a
// reset) leave berthd answering, with its fds back.
TEST_F(ApiEndpointsTest, TlsClientsThatMisbehave) {
  make_certs();
  TestDaemon d;
  std::vector<std::string> flags = tls_flags();
  flags.push_back("--header-timeout=1");
  start(d, flags);
  std::string err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto alive = [&] {
    auto r = d.client().request("GET", "/_ping");
    return r && r->status == 200;
  };
  int fds = d.open_fds();

  // Half a TLS record header, then silence: closed without an answer.
  int stalled = connect_in_netns(d.pid());
  ASSERT_GE(stalled, 0);
  ASSERT_EQ(::send(stalled, "\x16\x03\x01\x02", 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(read_to_end(stalled), 0);
  ::close(stalled);
  // Plain HTTP: an alert at most, then the close.
  int plain = connect_in_netns(d.pid());
  ASSERT_GE(plain, 0);
  std::string get = "GET /_ping HTTP/1.1\r\nHost: berth\r\n\r\n";
  ASSERT_EQ(::send(plain, get.data(), get.size(), MSG_NOSIGNAL), ssize_t(get.size()));
  EXPECT_GE(read_to_end(plain), 0);
  ::close(plain);
  ASSERT_TRUE(alive()) << d.log();

  SSL_CTX* ctx = ::SSL_CTX_new(::TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(::SSL_CTX_load_verify_locations(ctx, path("ca.pem").c_str(), nullptr), 1);
  ASSERT_EQ(::SSL_CTX_use_certificate_file(ctx, path("client-cert.pem").c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(::SSL_CTX_use_PrivateKey_file(ctx, path("client-key.pem").c_str(), SSL_FILETYPE_PEM), 1);
  ::SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  std::string save = "GET /images/busybox/get HTTP/1.1\r\nHost: berth\r\n\r\n";
  // Reads the save over TLS until `cut` bytes came (or it ended); returns
  // the bytes read.
  auto leave_at = [&](size_t cut, bool reset) -> size_t {
    int fd = connect_in_netns(d.pid());
    if (fd < 0) return 0;
    SSL* ssl = ::SSL_new(ctx);
    ::SSL_set_fd(ssl, fd);
    size_t got = 0;
    if (::SSL_connect(ssl) == 1 && ::SSL_write(ssl, save.data(), int(save.size())) == int(save.size())) {
      char buf[16384];
      while (got < cut) {
        int n = ::SSL_read(ssl, buf, int(std::min(sizeof buf, cut - got)));
        if (n <= 0) break;
        got += size_t(n);
      }
    }
    if (reset) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::SSL_free(ssl);
    ::close(fd);
    return got;
  };
  size_t total = leave_at(size_t(1) << 30, false);
  ASSERT_GT(total, 100000u) << d.log();
  for (int i = 0; i < 30; i++) {
    size_t cut = i == 0 ? 1000 : size_t(i) * (total / 30) + size_t(i) * 13 % 700;
    leave_at(cut, i % 2 == 1);
    ASSERT_TRUE(alive()) << "berthd died after a TLS save left at byte " << cut << "\n" << d.log();
  }
  ::SSL_CTX_free(ctx);
  int now = d.open_fds();
  for (int i = 0; i < 500 && now > fds; i++) {
    ::usleep(10000);
    now = d.open_fds();
  }
  EXPECT_LE(now, fds);
  EXPECT_EQ(d.stop(), 0);
}

// The docker CLI's own --tlsverify: version, and a run whose output comes
// over the hijacked (upgraded) TLS connection.
TEST_F(ApiEndpointsTest, DockerCliTlsVerify) {
  if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine: the TLS client test above covers berthd";
  make_certs();
  TestDaemon d;
  start(d, tls_flags());
  std::string err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  std::vector<std::string> docker{"docker",    "--tlsverify", "--tlscacert", path("ca.pem"),
                                  "--tlscert", path("client-cert.pem"), "--tlskey", path("client-key.pem"),
                                  "-H",        std::string("tcp://") + kAddr};
  std::vector<std::string> env{"DOCKER_CONFIG=" + certs_ + "/docker-config", "DOCKER_HOST=", "DOCKER_TLS_VERIFY=",
                               "DOCKER_CERT_PATH="};
  auto with = [&](std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = docker;
    argv.insert(argv.end(), args.begin(), args.end());
    return in_netns(d, argv, env, input);
  };
  auto version = with({"version", "--format", "{{.Server.APIVersion}}"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, "1.50\n");
  auto run = with({"run", "--rm", "busybox", "echo", "over tls"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "over tls\n");
  // A request body of megabytes (a root filesystem tar, an upload) and a
  // mebibyte of stdin through the upgraded connection, both over TLS.
  auto import = with({"import", BERTH_BUSYBOX_TAR, "tls-imported"});
  EXPECT_EQ(import.exit_code, 0) << import.err << d.log();
  EXPECT_THAT(with({"images", "-q", "tls-imported"}).out, Not(testing::IsEmpty()));
  auto count = with({"run", "--rm", "-i", "busybox", "wc", "-c"}, std::string(1 << 20, 'y'));
  EXPECT_EQ(count.exit_code, 0) << count.err << d.log();
  EXPECT_THAT(count.out, HasSubstr("1048576"));
  // Logs, exec with stdin, cp both ways (archive GET and PUT) and save
  // (a long stream) over TLS.
  ASSERT_EQ(with({"run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo hello; sleep 1000"}).exit_code, 0);
  CommandResult logs;
  for (int i = 0; i < 500 && logs.out != "hello\n"; i++) {
    logs = with({"logs", "bg"});
    if (logs.out != "hello\n") ::usleep(10000);
  }
  EXPECT_EQ(logs.out, "hello\n") << logs.err;
  auto exec = with({"exec", "-i", "bg", "cat"}, "through exec\n");
  EXPECT_EQ(exec.out, "through exec\n") << exec.err;
  write("to-copy", "copied in\n");
  EXPECT_EQ(with({"cp", path("to-copy"), "bg:/tmp/to-copy"}).exit_code, 0);
  EXPECT_EQ(with({"exec", "bg", "cat", "/tmp/to-copy"}).out, "copied in\n");
  auto out = with({"cp", "bg:/tmp/to-copy", path("copied-out")});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(read_file(path("copied-out")).value_or(""), "copied in\n");
  auto save = with({"save", "-o", path("saved.tar"), "busybox"});
  EXPECT_EQ(save.exit_code, 0) << save.err;
  EXPECT_GT(read_file(path("saved.tar")).value_or("").size(), 100000u);
  EXPECT_EQ(with({"rm", "-f", "bg"}).exit_code, 0);

  // Without a client certificate the CLI is refused.
  auto anonymous = in_netns(d, {"docker", "--tls", "--tlscacert", path("ca.pem"), "-H", std::string("tcp://") + kAddr,
                                "version", "--format", "{{.Server.APIVersion}}"},
                            env);
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.out, Not(HasSubstr("1.50")));
  EXPECT_EQ(d.stop(), 0);
}

// --insecure-tcp: plain HTTP served, with a warning in the log.
TEST_F(ApiEndpointsTest, InsecureTcpWhenAskedFor) {
  TestDaemon d;
  start(d, {"--insecure-tcp"});
  auto ping = in_netns(d, {"curl", "-sS", "--max-time", "60", std::string("http://") + kAddr + "/_ping"});
  EXPECT_EQ(ping.exit_code, 0) << ping.err;
  EXPECT_EQ(ping.out, "OK");
  EXPECT_TRUE(d.wait_log("plain HTTP without TLS (--insecure-tcp)")) << d.log();
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
