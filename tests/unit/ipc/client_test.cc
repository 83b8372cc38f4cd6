// Client against a scripted in-test server on a temporary Unix socket.
#include "ipc/client/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "core/base/file.h"
#include "ipc/proto/frames.h"
#include "ipc/proto/request.h"

namespace berth::ipc {
namespace {

// Accepts connections one after another on its own thread and hands each to
// `handler(fd, index)`. Destruction stops the loop and joins.
class TestServer {
 public:
  using Handler = std::function<void(int fd, int index)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    ::signal(SIGPIPE, SIG_IGN);  // a client may hang up before the scripted answer
    char tmpl[] = "/tmp/berth-client-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/api.sock";
    listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_.get(), 8), 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~TestServer() {
    stop_ = true;
    ::shutdown(listen_fd_.get(), SHUT_RDWR);
    thread_.join();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string host() const { return "unix://" + path_; }
  int connections() const { return connections_; }

 private:
  void loop() {
    for (int i = 0; !stop_; i++) {
      int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      connections_++;
      unique_fd conn(fd);
      handler_(conn.get(), i);
    }
  }

  Handler handler_;
  std::string dir_, path_;
  unique_fd listen_fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
};

// Server side of one request: reads until kComplete with a RequestParser.
struct ServerConn {
  int fd;
  RequestParser parser;
  std::string buf;

  // false on EOF before a request.
  bool read_request(Request* req, std::string* body) {
    body->clear();
    for (;;) {
      auto step = parser.feed(buf);
      if (!step) {
        ADD_FAILURE() << step.error().message();
        return false;
      }
      if (step->event == ParseEvent::kBody) body->append(step->body);
      buf.erase(0, step->consumed);
      if (step->event == ParseEvent::kComplete) {
        *req = parser.head();
        return true;
      }
      if (step->event != ParseEvent::kNeedMore) continue;
      char tmp[4096];
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) return false;
      buf.append(tmp, size_t(n));
    }
  }
  void send(std::string_view s) { EXPECT_TRUE(write_all(fd, s)); }
};

std::string json_response(int status, std::string_view body) {
  return response_head(status, {{"Content-Type", "application/json"},
                                {"Content-Length", std::to_string(body.size())}}) +
         std::string(body);
}

TEST(Client, ConnectErrorNamesTheHost) {
  Result<Client> c = Client::connect("unix:///nonexistent/berth.sock");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "cannot connect to berthd at unix:///nonexistent/berth.sock: No such file or directory");
  EXPECT_FALSE(Client::connect("tcp://127.0.0.1:2375"));
}

TEST(Client, RequestsReuseOneConnection) {
  TestServer server([](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    while (s.read_request(&req, &body)) {
      if (req.method == "POST") {
        EXPECT_EQ(req.header("content-type"), "application/json");
        s.send(json_response(201, R"({"Id":"abc","Warnings":[]})"));
      } else {
        s.send(json_response(200, "[" + std::string(req.path.size(), '1') + "]"));
      }
    }
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c) << c.error().message();
  Result<Response> r = c->request("POST", "/containers/create?name=x", R"({"Image":"busybox"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"Id":"abc","Warnings":[]})");
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  for (int i = 0; i < 3; i++) {
    r = c->request("GET", "/containers/json");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "[1111111111111111]");
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(Client, ChunkedResponseAndVersionedPaths) {
  TestServer server([](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    while (s.read_request(&req, &body)) {
      if (req.path == "/_ping") {
        EXPECT_EQ(req.api_version, "");
        EXPECT_EQ(req.method, "HEAD");
        s.send(response_head(200, {{"Api-Version", "1.41"}, {"Content-Length", "2"}}));
        continue;
      }
      EXPECT_EQ(req.api_version, "1.41");
      std::string out = response_head(200, {{"Transfer-Encoding", "chunked"}});
      append_chunk(out, "{\"Version\":");
      append_chunk(out, "\"0.1.0\"}");
      out += kLastChunk;
      s.send(out);
    }
  });
  Result<Client> c = Client::connect(server.path());  // a plain path works too
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->negotiate());
  EXPECT_EQ(c->api_version(), "1.41");
  Result<Response> r = c->request("GET", "/version");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, R"({"Version":"0.1.0"})");
  EXPECT_EQ(server.connections(), 1);
}

TEST(Client, StartStreamReturnsBeforeTheBody) {
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  unique_fd gate_r(gate[0]), gate_w(gate[1]);
  TestServer server([&](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    EXPECT_EQ(req.query_value("condition"), "next-exit");
    s.send(response_head(200, {{"Content-Type", "application/json"}, {"Transfer-Encoding", "chunked"}}));
    char x;
    ASSERT_EQ(::read(gate_r.get(), &x, 1), 1);  // the client has the head by now
    std::string out;
    append_chunk(out, "{\"StatusCode\":7,\"Error\":null}\n");
    out += kLastChunk;
    s.send(out);
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  Result<Response> head = c->start_stream("POST", "/containers/abc/wait?condition=next-exit");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  ASSERT_EQ(::write(gate_w.get(), "x", 1), 1);
  std::string body;
  for (;;) {
    Result<std::optional<std::string>> piece = c->next_chunk();
    ASSERT_TRUE(piece) << piece.error().message();
    if (!*piece) break;
    body += **piece;
  }
  EXPECT_EQ(body, "{\"StatusCode\":7,\"Error\":null}\n");
  Result<std::optional<std::string>> after = c->next_chunk();
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after);
}

TEST(Client, StreamUntilEofAndReconnect) {
  TestServer server([](int fd, int index) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    if (index == 0)
      s.send(response_head(200, {{"Content-Type", "application/x-tar"}}) + "tar bytes until close");
    else
      s.send(json_response(200, "{}"));
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  Result<Response> r = c->request("GET", "/containers/x/export");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "tar bytes until close");
  r = c->request("GET", "/info");  // the first connection is gone: dial again
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "{}");
  EXPECT_EQ(server.connections(), 2);
}

TEST(Client, ServerClosingIdleConnectionIsRetried) {
  TestServer server([](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    s.send(json_response(200, "[]"));  // keep-alive promised, then hang up
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->request("GET", "/images/json"));
  usleep(20 * 1000);  // let the server close its end
  Result<Response> r = c->request("GET", "/images/json");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "[]");
}

TEST(Client, HijackReturnsLeftoverAndRawSocket) {
  TestServer server([](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    EXPECT_TRUE(req.upgrade);
    EXPECT_EQ(req.header("upgrade"), "tcp");
    EXPECT_EQ(req.query_value("stream"), "1");
    std::string out = response_head(101, {{"Content-Type", "application/vnd.docker.multiplexed-stream"},
                                          {"Connection", "Upgrade"},
                                          {"Upgrade", "tcp"}});
    append_frame(out, kStreamStdout, "out\n");
    s.send(out);
    std::string more;
    append_frame(more, kStreamStderr, "err\n");
    s.send(more);
    char in[16];
    ssize_t n = ::read(fd, in, sizeof in);  // raw stdin from the client
    EXPECT_EQ(std::string(in, size_t(std::max<ssize_t>(n, 0))), "hello");
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  Result<Client::Hijacked> h = c->hijack("POST", "/containers/abc/attach?stream=1&stdout=1&stderr=1");
  ASSERT_TRUE(h) << h.error().message();
  FrameReader frames;
  frames.feed(h->leftover);
  ASSERT_EQ(::write(h->fd.get(), "hello", 5), 5);
  ::shutdown(h->fd.get(), SHUT_WR);
  char buf[256];
  for (ssize_t n; (n = ::read(h->fd.get(), buf, sizeof buf)) > 0;) frames.feed(std::string_view(buf, size_t(n)));
  uint8_t stream;
  std::string payload, out, err;
  while (frames.next(&stream, &payload)) (stream == kStreamStdout ? out : err) += payload;
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
}

TEST(Client, HijackRefusedGivesDaemonError) {
  TestServer server([](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    while (s.read_request(&req, &body)) {
      if (req.upgrade) {
        s.parser.refuse_upgrade();
        s.send(json_response(404, R"({"message":"No such container: nosuch"})"));
      } else {
        s.send(json_response(200, "{}"));
      }
    }
  });
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  Result<Client::Hijacked> h = c->hijack("POST", "/containers/nosuch/attach?stream=1");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), Code::kNotFound);
  EXPECT_EQ(h.error().message(), "Error response from daemon: No such container: nosuch");
  Result<Response> r = c->request("GET", "/x");  // on a fresh connection
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(server.connections(), 2);
}

TEST(Client, UploadSendsChunkedBody) {
  std::string payload;
  for (int i = 0; i < 200000; i++) payload.push_back(char('a' + i % 26));
  TestServer server([&](int fd, int) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    EXPECT_TRUE(req.chunked);
    EXPECT_EQ(req.header("content-type"), "application/x-tar");
    EXPECT_EQ(req.query_value("repo"), "imp:v1");
    EXPECT_EQ(body.size(), payload.size());
    EXPECT_TRUE(body == payload);
    s.send(json_response(200, "{\"status\":\"sha256:0123\"}\n"));
  });
  char path[] = "/tmp/berth-upload-XXXXXX";
  unique_fd file(::mkstemp(path));
  ASSERT_TRUE(file);
  ::unlink(path);
  ASSERT_TRUE(write_all(file.get(), payload));
  ASSERT_EQ(::lseek(file.get(), 0, SEEK_SET), 0);
  Result<Client> c = Client::connect(server.host());
  ASSERT_TRUE(c);
  Result<Response> r = c->upload("POST", "/images/create?fromSrc=-&repo=imp%3Av1", file.get(), "application/x-tar");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"status\":\"sha256:0123\"}\n");
}

TEST(Client, NegotiateFollowsTheDockerCliRule) {
  // Connection i answers the ping with versions[i]: newer than ours, absent, older.
  const char* versions[] = {"1.60", nullptr, "1.41"};
  TestServer server([&](int fd, int index) {
    ServerConn s{fd};
    Request req;
    std::string body;
    ASSERT_TRUE(s.read_request(&req, &body));
    Headers h = {{"Content-Length", "0"}};
    if (versions[index]) h.emplace_back("Api-Version", versions[index]);
    if (req.method == "HEAD" && index == 2) {  // refuse HEAD: the client retries with GET
      // A HEAD answer announces its length but carries no body.
      s.send(response_head(405, {{"Content-Type", "application/json"}, {"Content-Length", "33"}}));
      ASSERT_TRUE(s.read_request(&req, &body));
      EXPECT_EQ(req.method, "GET");
    }
    s.send(response_head(200, h));
  });
  const char* expect[] = {"1.50", "1.24", "1.41"};
  for (const char* v : expect) {
    Result<Client> c = Client::connect(server.host());
    ASSERT_TRUE(c);
    Result<void> n = c->negotiate();
    ASSERT_TRUE(n) << v << ": " << n.error().message();
    EXPECT_EQ(c->api_version(), v);
  }
}

TEST(Client, ErrorMessageHelpers) {
  Response r{409, {}, R"({"message":"You cannot remove a running container abc"})"};
  EXPECT_EQ(error_message(r), "You cannot remove a running container abc");
  Error e = daemon_error(r);
  EXPECT_EQ(e.code(), Code::kConflict);
  EXPECT_EQ(e.message(), "Error response from daemon: You cannot remove a running container abc");
  EXPECT_EQ(daemon_error(Response{500, {}, ""}).message(), "Error response from daemon: 500 Internal Server Error");
}

}  // namespace
}  // namespace berth::ipc
