// Pseudo-terminals through the API, as the docker CLI drives them: a tty
// container's pty is its stdio with the ConsoleSize from create, resize
// reaches it as a window change, attach streams raw bytes to every client,
// the detach keys leave it running, and exec gets a pty (or a stdin pipe) of
// its own. Reads wait for the expected text with a generous bound; nothing
// here measures time.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class TtyTest : public DaemonSuite {
 protected:
  Json api(const std::string& method, const std::string& path, const std::string& body, int want) {
    auto c = d().client();
    auto r = c.request(method, path, body);
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, want) << method << " " << path << ": " << r->body;
    return Json::parse(r->body, nullptr, false);
  }
  // A tty container with OpenStdin running `sh`, with a 24x80 console.
  // StdinOnce as docker run -it sends it: with a tty it never closes stdin.
  std::string create_shell(const std::string& extra = "") {
    Json j = api("POST", "/containers/create",
                 R"({"Image":"busybox","Cmd":["sh"],"Tty":true,"OpenStdin":true,"StdinOnce":true,"AttachStdin":true,)"
                 R"("HostConfig":{"ConsoleSize":[24,80])" + extra + "}}",
                 201);
    return j.value("Id", "");
  }
  ipc::Client::Hijacked attach(const std::string& id, const std::string& query = "") {
    auto c = d().client();
    auto h = c.hijack("POST", "/containers/" + id + "/attach?stream=1&stdin=1&stdout=1&stderr=1" + query);
    EXPECT_TRUE(h) << (h ? "" : h.error().message());
    return h ? std::move(*h) : ipc::Client::Hijacked{};
  }
};

// Reads from `fd` into *seen until it contains `what` (true), EOF or an error
// (false), or 30 s without a byte (false; a hang, not a timing check).
bool read_until(int fd, std::string* seen, std::string_view what) {
  char buf[4096];
  while (seen->find(what) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    seen->append(buf, size_t(n));
  }
  return true;
}

// Reads until EOF (true) or 30 s of silence (false).
bool read_to_eof(int fd, std::string* seen) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    seen->append(buf, size_t(n));
  }
}

void send_text(int fd, std::string_view s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }

// Strips Docker's 8-byte stream headers, writing "1:" / "2:" where the
// stream changes (how output splits into frames depends on pipe reads).
std::string deframe(const std::string& framed) {
  std::string text;
  char last = 0;
  for (size_t i = 0; i + 8 <= framed.size();) {
    uint32_t n = uint32_t(uint8_t(framed[i + 4])) << 24 | uint32_t(uint8_t(framed[i + 5])) << 16 |
                 uint32_t(uint8_t(framed[i + 6])) << 8 | uint32_t(uint8_t(framed[i + 7]));
    if (framed[i] != last) text += std::to_string(int(framed[i])) + ":";
    last = framed[i];
    text += framed.substr(i + 8, n);
    i += 8 + n;
  }
  return text;
}

TEST_F(TtyTest, ShellOnAPtyFollowsResizeDetachesAndReattaches) {
  std::string id = create_shell();
  ASSERT_FALSE(id.empty());
  auto a = attach(id);
  ASSERT_TRUE(a.fd);
  api("POST", "/containers/" + id + "/start", "", 204);
  std::string out = a.leftover;
  send_text(a.fd.get(), "tty; stty size; echo mark-$((6*7))\n");
  ASSERT_TRUE(read_until(a.fd.get(), &out, "mark-42")) << out;
  EXPECT_THAT(out, HasSubstr("/dev/pts/0\r\n24 80\r\n"));
  // Raw pty bytes: no 8-byte stream headers anywhere.
  EXPECT_EQ(out.find('\x01'), std::string::npos);

  auto inspect = api("GET", "/containers/" + id + "/json", "", 200);
  EXPECT_EQ(inspect["Config"]["Tty"], true);
  api("POST", "/containers/" + id + "/resize?h=50&w=132", "", 200);
  out.clear();
  send_text(a.fd.get(), "stty size\n");
  ASSERT_TRUE(read_until(a.fd.get(), &out, "50 132\r\n")) << out;

  // ctrl-p ctrl-q: the client is let go, the container runs on.
  send_text(a.fd.get(), "\x10\x11");
  std::string rest;
  EXPECT_TRUE(read_to_eof(a.fd.get(), &rest));
  inspect = api("GET", "/containers/" + id + "/json", "", 200);
  EXPECT_EQ(inspect["State"]["Running"], true);

  // Re-attach with other detach keys: a lone ctrl-p now reaches the shell
  // (it is just a character), and `exit` ends container and stream.
  auto b = attach(id, "&detachKeys=ctrl-x,x");
  ASSERT_TRUE(b.fd);
  out = b.leftover;
  send_text(b.fd.get(), "echo again-$((2+3))\n");
  ASSERT_TRUE(read_until(b.fd.get(), &out, "again-5")) << out;
  send_text(b.fd.get(), "exit 3\n");
  EXPECT_TRUE(read_to_eof(b.fd.get(), &out));
  auto c = d().client();
  auto w = c.request("POST", "/containers/" + id + "/wait");
  ASSERT_TRUE(w);
  EXPECT_EQ(Json::parse(w->body)["StatusCode"], 3);
  // The log holds the terminal's bytes raw too.
  auto logs = c.request("GET", "/containers/" + id + "/logs?stdout=1&stderr=1");
  ASSERT_TRUE(logs);
  EXPECT_THAT(logs->body, HasSubstr("/dev/pts/0\r\n24 80\r\n"));
  EXPECT_EQ(logs->header("content-type"), "application/vnd.docker.raw-stream");
  api("DELETE", "/containers/" + id, "", 204);
}

TEST_F(TtyTest, TwoClientsSeeTheSameOutputAndOneDetaching) {
  std::string id = create_shell();
  ASSERT_FALSE(id.empty());
  auto a = attach(id);
  auto b = attach(id);
  ASSERT_TRUE(a.fd && b.fd);
  api("POST", "/containers/" + id + "/start", "", 204);
  std::string out_a = a.leftover, out_b = b.leftover;
  send_text(a.fd.get(), "echo from-$((1+1))-a\n");
  ASSERT_TRUE(read_until(a.fd.get(), &out_a, "from-2-a"));
  ASSERT_TRUE(read_until(b.fd.get(), &out_b, "from-2-a"));
  send_text(a.fd.get(), "\x10\x11");
  std::string rest;
  EXPECT_TRUE(read_to_eof(a.fd.get(), &rest));
  send_text(b.fd.get(), "echo still-$((3+3))\n");
  ASSERT_TRUE(read_until(b.fd.get(), &out_b, "still-6"));
  api("POST", "/containers/" + id + "/kill", "", 204);
  EXPECT_TRUE(read_to_eof(b.fd.get(), &out_b));
  api("DELETE", "/containers/" + id + "?force=1", "", 204);
}

TEST_F(TtyTest, ExecWithATtyAndWithAStdinPipe) {
  Json j = api("POST", "/containers/create", R"({"Image":"busybox","Cmd":["sleep","1000"]})", 201);
  std::string id = j["Id"];
  api("POST", "/containers/" + id + "/start", "", 204);

  // exec -it: its own pty in the container's devpts, with its console size.
  Json ex = api("POST", "/containers/" + id + "/exec",
                R"({"Cmd":["sh"],"Tty":true,"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,)"
                R"("ConsoleSize":[30,100]})",
                201);
  std::string eid = ex["Id"];
  auto c = d().client();
  auto h = c.hijack("POST", "/exec/" + eid + "/start", R"({"Detach":false,"Tty":true,"ConsoleSize":[30,100]})");
  ASSERT_TRUE(h) << h.error().message();
  std::string out = h->leftover;
  send_text(h->fd.get(), "tty; stty size; echo m-$((5*5))\n");
  ASSERT_TRUE(read_until(h->fd.get(), &out, "m-25")) << out;
  EXPECT_THAT(out, HasSubstr("/dev/pts/0\r\n30 100\r\n"));
  api("POST", "/exec/" + eid + "/resize?h=33&w=77", "", 200);
  out.clear();
  send_text(h->fd.get(), "stty size; exit 5\n");
  EXPECT_TRUE(read_to_eof(h->fd.get(), &out));
  EXPECT_THAT(out, HasSubstr("33 77\r\n"));
  Json done = api("GET", "/exec/" + eid + "/json", "", 200);
  EXPECT_EQ(done["ExitCode"], 5);
  EXPECT_EQ(done["ProcessConfig"]["tty"], true);

  // exec -i without a tty: a stdin pipe, ended by the client's half-close.
  ex = api("POST", "/containers/" + id + "/exec",
           R"({"Cmd":["sh","-c","wc -c; echo end"],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true})", 201);
  eid = ex["Id"];
  auto c2 = d().client();
  auto p = c2.hijack("POST", "/exec/" + eid + "/start", R"({"Detach":false,"Tty":false})");
  ASSERT_TRUE(p) << p.error().message();
  std::string data(300000, 'z');
  send_text(p->fd.get(), data);
  ::shutdown(p->fd.get(), SHUT_WR);
  std::string framed = p->leftover;
  EXPECT_TRUE(read_to_eof(p->fd.get(), &framed));
  EXPECT_EQ(deframe(framed), "1:300000\nend\n");
  api("DELETE", "/containers/" + id + "?force=1", "", 204);
}

// attach?logs=1 (not a tty): what the container wrote before the attach
// comes first, then the live output, each byte once; on a stopped container
// only the log.
TEST_F(TtyTest, AttachWithLogsReplaysThenFollows) {
  Json j = api("POST", "/containers/create",
               R"({"Image":"busybox","Cmd":["sh","-c","echo one; echo two >&2; read x; echo three-$x"],)"
               R"("OpenStdin":true})",
               201);
  std::string id = j["Id"];
  api("POST", "/containers/" + id + "/start", "", 204);
  auto c = d().client();
  for (int i = 0; i < 600; i++) {  // until both lines are in the log
    auto l = c.request("GET", "/containers/" + id + "/logs?stdout=1&stderr=1");
    if (l && l->body.find("two") != std::string::npos) break;
    ::usleep(50000);
  }
  auto a = attach(id, "&logs=1");
  ASSERT_TRUE(a.fd);
  std::string framed = a.leftover;
  ASSERT_TRUE(read_until(a.fd.get(), &framed, "two\n")) << framed;
  send_text(a.fd.get(), "go\n");
  EXPECT_TRUE(read_to_eof(a.fd.get(), &framed));
  EXPECT_EQ(deframe(framed), "1:one\n2:two\n1:three-go\n");

  auto c2 = d().client();
  auto b = c2.hijack("POST", "/containers/" + id + "/attach?logs=1&stdout=1");
  ASSERT_TRUE(b);
  framed = b->leftover;
  EXPECT_TRUE(read_to_eof(b->fd.get(), &framed));
  EXPECT_EQ(deframe(framed), "1:one\nthree-go\n");
  api("DELETE", "/containers/" + id, "", 204);
}

TEST_F(TtyTest, ResizeAndDetachKeyErrors) {
  Json j = api("POST", "/containers/create", R"({"Image":"busybox","Cmd":["sleep","1000"]})", 201);
  std::string id = j["Id"];
  api("POST", "/containers/" + id + "/resize?h=10&w=10", "", 409);  // not running
  api("POST", "/containers/" + id + "/start", "", 204);
  Json no_tty = api("POST", "/containers/" + id + "/resize?h=10&w=10", "", 409);
  EXPECT_THAT(no_tty["message"].get<std::string>(), HasSubstr("no tty"));
  api("POST", "/containers/" + id + "/resize?h=x&w=10", "", 400);
  api("POST", "/containers/" + id + "/resize?w=10", "", 400);
  api("POST", "/containers/nope/resize?h=1&w=1", "", 404);
  auto c = d().client();
  auto bad = c.request("POST", "/containers/" + id + "/attach?stream=1&stdin=1&detachKeys=ctrl-1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("Invalid detach keys"));
  Json bad_exec = api("POST", "/containers/" + id + "/exec", R"({"Cmd":["sh"],"DetachKeys":"ctrl-"})", 400);
  EXPECT_THAT(bad_exec["message"].get<std::string>(), HasSubstr("Invalid detach keys"));
  api("POST", "/containers/create", R"({"Image":"busybox","Tty":true,"HostConfig":{"ConsoleSize":[1]}})", 400);
  api("DELETE", "/containers/" + id + "?force=1", "", 204);
}

}  // namespace
}  // namespace berth::test
