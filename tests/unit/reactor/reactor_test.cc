#include "core/reactor/reactor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace berth::reactor {
namespace {

std::unique_ptr<Reactor> make() {
  auto r = Reactor::create(256, 2);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return std::move(*r);
}

// Runs the loop until `done` or a generous iteration bound (no wall-clock assertions).
template <class F>
void run_until(Reactor& r, F done, int max_loops = 100000) {
  for (int i = 0; i < max_loops && !done(); i++) r.run_once(1000);
  ASSERT_TRUE(done());
}

TEST(Reactor, ReadWritePipe) {
  auto r = make();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char out[] = "hello";
  char in[16] = {};
  int wres = 0, rres = 0;
  Completion w([&](int32_t res, uint32_t) { wres = res; });
  Completion rd([&](int32_t res, uint32_t) { rres = res; });
  r->read(p[0], in, sizeof in, uint64_t(-1), rd);
  r->write(p[1], out, 5, uint64_t(-1), w);
  run_until(*r, [&] { return !w.in_flight() && !rd.in_flight(); });
  EXPECT_EQ(wres, 5);
  EXPECT_EQ(rres, 5);
  EXPECT_EQ(std::string(in, 5), "hello");
  close(p[0]);
  close(p[1]);
}

TEST(Reactor, EofAndPeerClose) {
  auto r = make();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char buf[8];
  int res = 1;
  Completion rd([&](int32_t v, uint32_t) { res = v; });
  r->read(p[0], buf, sizeof buf, uint64_t(-1), rd);
  close(p[1]);
  run_until(*r, [&] { return !rd.in_flight(); });
  EXPECT_EQ(res, 0);  // EOF
  close(p[0]);

  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  Completion snd([&](int32_t v, uint32_t) { res = v; });
  r->send(sv[0], "x", 1, snd);
  run_until(*r, [&] { return !snd.in_flight(); });
  EXPECT_EQ(res, -EPIPE);  // MSG_NOSIGNAL: no SIGPIPE, an error instead
  close(sv[0]);
}

TEST(Reactor, ShortReads) {
  auto r = make();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(write(p[1], "abc", 3), 3);
  char buf[100];
  int res = 0;
  Completion rd([&](int32_t v, uint32_t) { res = v; });
  r->read(p[0], buf, sizeof buf, uint64_t(-1), rd);
  run_until(*r, [&] { return !rd.in_flight(); });
  EXPECT_EQ(res, 3);
  close(p[0]);
  close(p[1]);
}

TEST(Reactor, ThousandsOfPipes) {
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  const int n = std::min<int>(2000, (int(rl.rlim_cur) - 100) / 2);
  ASSERT_GT(n, 100) << "RLIMIT_NOFILE too low";
  auto r = Reactor::create(512, 1);
  ASSERT_TRUE(r.has_value());
  struct P {
    int fds[2];
    char buf[8];
    int res = -1;
    Completion c;
  };
  std::vector<std::unique_ptr<P>> ps;
  for (int i = 0; i < n; i++) {
    auto p = std::make_unique<P>();
    ASSERT_EQ(pipe2(p->fds, O_CLOEXEC), 0);
    P* raw = p.get();
    p->c.set_callback([raw](int32_t v, uint32_t) { raw->res = v; });
    (*r)->read(p->fds[0], p->buf, sizeof p->buf, uint64_t(-1), p->c);
    ps.push_back(std::move(p));
  }
  for (int i = n - 1; i >= 0; i--) ASSERT_EQ(write(ps[i]->fds[1], &i, sizeof i), 4);
  run_until(**r, [&] { return (*r)->pending() == 1; });  // only the job-pool reader remains
  for (int i = 0; i < n; i++) {
    EXPECT_EQ(ps[i]->res, 4);
    int v;
    memcpy(&v, ps[i]->buf, 4);
    EXPECT_EQ(v, i);
    close(ps[i]->fds[0]);
    close(ps[i]->fds[1]);
  }
}

TEST(Reactor, TimersFireInOrder) {
  auto r = make();
  std::vector<int> order;
  __kernel_timespec t1{0, 30 * 1000000}, t2{0, 1 * 1000000};
  Completion a([&](int32_t res, uint32_t) { EXPECT_EQ(res, -ETIME); order.push_back(1); });
  Completion b([&](int32_t res, uint32_t) { EXPECT_EQ(res, -ETIME); order.push_back(2); });
  r->timeout(&t1, a);
  r->timeout(&t2, b);
  run_until(*r, [&] { return order.size() == 2; });
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST(Reactor, CancelInFlightRead) {
  auto r = make();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char buf[8];
  int res = 0, calls = 0;
  Completion rd([&](int32_t v, uint32_t) { res = v; calls++; });
  r->read(p[0], buf, sizeof buf, uint64_t(-1), rd);
  r->run_once(0);
  EXPECT_TRUE(rd.in_flight());
  r->cancel(rd);
  run_until(*r, [&] { return !rd.in_flight(); });
  EXPECT_EQ(res, -ECANCELED);
  EXPECT_EQ(calls, 1);
  r->cancel(rd);  // idle: no-op
  close(p[0]);
  close(p[1]);
}

TEST(Reactor, CancelTimer) {
  auto r = make();
  __kernel_timespec t{3600, 0};
  int res = 0;
  Completion c([&](int32_t v, uint32_t) { res = v; });
  r->timeout(&t, c);
  r->run_once(0);
  r->cancel(c);
  run_until(*r, [&] { return !c.in_flight(); });
  EXPECT_EQ(res, -ECANCELED);
}

TEST(Reactor, JobPoolCompletesOnReactorThread) {
  auto r = make();
  auto reactor_thread = std::this_thread::get_id();
  std::atomic<int> worked{0};
  int done = 0;
  for (int i = 0; i < 100; i++) {
    ASSERT_TRUE(r->run_job([&] { EXPECT_NE(std::this_thread::get_id(), reactor_thread); worked++; },
                           [&] { EXPECT_EQ(std::this_thread::get_id(), reactor_thread); done++; }));
  }
  run_until(*r, [&] { return done == 100; });
  EXPECT_EQ(worked.load(), 100);
}

// post() from several threads at once: everything runs on the reactor
// thread, each thread's posts in its order.
TEST(Reactor, PostFromThreadsRunsOnReactorInOrder) {
  auto r = make();
  auto reactor_thread = std::this_thread::get_id();
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> refused{0};
  int ran = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; t++)
    posters.emplace_back([&, t] {
      for (int i = 0; i < kEach; i++)
        if (!r->post([&, t, i] {
              EXPECT_EQ(std::this_thread::get_id(), reactor_thread);
              seen[t].push_back(i);
              ran++;
            }))
          refused++;
    });
  run_until(*r, [&] { return ran + refused.load() == kThreads * kEach; });
  for (auto& p : posters) p.join();
  EXPECT_EQ(refused.load(), 0);
  for (int t = 0; t < kThreads; t++) {
    ASSERT_EQ(seen[t].size(), size_t(kEach));
    for (int i = 0; i < kEach; i++) ASSERT_EQ(seen[t][i], i);
  }
}

// What a job posts while it works runs before its `done`.
TEST(Reactor, PostFromJobRunsBeforeItsDone) {
  auto r = make();
  std::vector<std::string> order;
  Reactor* rp = r.get();
  bool finished = false;
  ASSERT_TRUE(r->run_bulk(
      [rp, &order] {
        for (int i = 0; i < 100; i++) EXPECT_TRUE(rp->post([&order, i] { order.push_back(std::to_string(i)); }));
      },
      [&] {
        order.push_back("done");
        finished = true;
      }));
  run_until(*r, [&] { return finished; });
  ASSERT_EQ(order.size(), 101u);
  EXPECT_EQ(order.back(), "done");
  for (int i = 0; i < 100; i++) EXPECT_EQ(order[i], std::to_string(i));
}

// The queue is bounded: past kMaxPosted waiting posts, post() refuses (and
// the poster coalesces); the loop then runs the ones it took.
TEST(Reactor, PostIsBounded) {
  auto r = make();
  size_t ran = 0;
  std::thread poster([&] {
    for (size_t i = 0; i < kMaxPosted; i++) ASSERT_TRUE(r->post([&] { ran++; }));
    EXPECT_FALSE(r->post([&] { ran++; }));
  });
  poster.join();
  run_until(*r, [&] { return ran == kMaxPosted; });
  std::thread again([&] { EXPECT_TRUE(r->post([&] { ran++; })); });
  again.join();
  run_until(*r, [&] { return ran == kMaxPosted + 1; });
}

TEST(Reactor, DeferRunsAfterBatch) {
  auto r = make();
  int v = 0;
  r->defer([&] { v = 1; });
  r->run_once(0);
  EXPECT_EQ(v, 1);
}

// Idle-time work waits for every job and ready completion, then runs one
// task per idle moment, in order.
TEST(Reactor, WhenIdleWaitsForJobsAndCompletions) {
  auto r = make();
  std::vector<std::string> order;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  char byte = 0;
  Completion rd([&](int32_t, uint32_t) { order.push_back("read"); });
  r->read(fds[0], &byte, 1, uint64_t(-1), rd);
  std::atomic<bool> release{false};
  ASSERT_TRUE(r->run_job([&] { while (!release) std::this_thread::yield(); },
                         [&] { order.push_back("job"); }));
  r->when_idle([&] { order.push_back("idle 1"); });
  r->when_idle([&] { order.push_back("idle 2"); });
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  run_until(*r, [&] { return !rd.in_flight(); });
  EXPECT_EQ(order, std::vector<std::string>{"read"}) << "a job is still running: nothing idle may run";
  release = true;
  run_until(*r, [&] { return order.size() == 4; });
  EXPECT_EQ(order, (std::vector<std::string>{"read", "job", "idle 1", "idle 2"}));
  ::close(fds[0]);
  ::close(fds[1]);
}

// The tidy lane's jobs (clean-ups that mostly wait in the kernel) do not
// hold back idle-time work, and their `done` still runs on the loop.
TEST(Reactor, TidyJobsDoNotHoldBackIdleWork) {
  auto r = make();
  std::vector<std::string> order;
  std::atomic<bool> release{false};
  ASSERT_TRUE(r->run_tidy([&] { while (!release) std::this_thread::yield(); },
                          [&] { order.push_back("tidy"); }));
  r->when_idle([&] { order.push_back("idle"); });
  run_until(*r, [&] { return !order.empty(); });
  EXPECT_EQ(order, std::vector<std::string>{"idle"}) << "the tidy job is still running";
  EXPECT_EQ(r->jobs_outstanding(), 1u);
  release = true;
  run_until(*r, [&] { return order.size() == 2; });
  EXPECT_EQ(order, (std::vector<std::string>{"idle", "tidy"}));
  EXPECT_EQ(r->jobs_outstanding(), 0u);
}

TEST(Reactor, AcceptMultishotAndBufferRingRecv) {
  auto r = make();
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = "/tmp/berth-reactor-test-" + std::to_string(getpid());
  unlink(path.c_str());
  strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(lfd, (sockaddr*)&addr, sizeof addr), 0);
  ASSERT_EQ(listen(lfd, 64), 0);
  std::vector<int> accepted;
  Completion acc([&](int32_t fd, uint32_t) { if (fd >= 0) accepted.push_back(fd); });
  r->accept_multishot(lfd, acc);
  std::vector<int> clients;
  for (int i = 0; i < 5; i++) {
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(connect(c, (sockaddr*)&addr, sizeof addr), 0);
    clients.push_back(c);
  }
  run_until(*r, [&] { return accepted.size() == 5; });
  EXPECT_TRUE(acc.in_flight());  // multishot stays armed

  auto ring = r->create_buffer_ring(1, 8, 4096);
  ASSERT_TRUE(ring.has_value()) << ring.error().message();
  std::string got;
  bool eof = false;
  Completion rcv([&](int32_t res, uint32_t flags) {
    if (res > 0) {
      ASSERT_TRUE(BufferRing::has_buffer(flags));
      unsigned id = BufferRing::buffer_id(flags);
      got.append((*ring)->buffer(id), res);
      (*ring)->recycle(id);
    } else if (res == 0) {
      eof = true;
    }
  });
  r->recv_multishot(accepted[0], **ring, rcv);
  for (int i = 0; i < 20; i++) ASSERT_EQ(write(clients[0], "0123456789", 10), 10);
  close(clients[0]);
  run_until(*r, [&] { return eof; });
  EXPECT_EQ(got.size(), 200u);
  EXPECT_FALSE(rcv.in_flight());

  r->cancel(acc);
  run_until(*r, [&] { return !acc.in_flight(); });
  for (int fd : accepted) close(fd);
  for (size_t i = 1; i < clients.size(); i++) close(clients[i]);
  close(lfd);
  unlink(path.c_str());
}

TEST(Reactor, PollPidfdLikeEventfd) {
  auto r = make();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int res = 0;
  Completion c([&](int32_t v, uint32_t) { res = v; });
  r->poll(p[0], POLLIN, c);
  r->run_once(0);
  EXPECT_TRUE(c.in_flight());
  ASSERT_EQ(write(p[1], "x", 1), 1);
  run_until(*r, [&] { return !c.in_flight(); });
  EXPECT_TRUE(res & POLLIN);
  close(p[0]);
  close(p[1]);
}

TEST(Reactor, SendmsgRecvmsgDatagrams) {
  auto r = make();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  char out[] = "datagram";
  iovec oiov{out, 8};
  msghdr omsg{};
  omsg.msg_iov = &oiov;
  omsg.msg_iovlen = 1;
  char in[32] = {};
  iovec iiov{in, sizeof in};
  sockaddr_storage from{};
  msghdr imsg{};
  imsg.msg_name = &from;
  imsg.msg_namelen = sizeof from;
  imsg.msg_iov = &iiov;
  imsg.msg_iovlen = 1;
  int sres = 0, rres = 0;
  Completion snd([&](int32_t v, uint32_t) { sres = v; });
  Completion rcv([&](int32_t v, uint32_t) { rres = v; });
  r->recvmsg(sv[1], &imsg, rcv);
  r->sendmsg(sv[0], &omsg, snd);
  run_until(*r, [&] { return !snd.in_flight() && !rcv.in_flight(); });
  EXPECT_EQ(sres, 8);
  EXPECT_EQ(rres, 8);
  EXPECT_EQ(std::string(in, 8), "datagram");
  close(sv[0]);
  close(sv[1]);
}

TEST(Reactor, ConnectAndSpliceThroughAPipe) {
  auto r = make();
  // An abstract unix address: nothing on disk, private to this network
  // namespace.
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "berth-reactor-splice-" + std::to_string(getpid());
  memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(bind(lfd, (sockaddr*)&addr, alen), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int cres = 1;
  Completion con([&](int32_t v, uint32_t) { cres = v; });
  r->connect(cfd, (sockaddr*)&addr, alen, con);
  run_until(*r, [&] { return !con.in_flight(); });
  EXPECT_EQ(cres, 0);
  int sfd = -1;
  Completion acc([&](int32_t v, uint32_t) { sfd = v; });
  r->accept(lfd, acc);  // one shot
  run_until(*r, [&] { return !acc.in_flight(); });
  ASSERT_GE(sfd, 0);
  EXPECT_TRUE(fcntl(sfd, F_GETFL) & O_NONBLOCK);
  fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK);

  // client -> pipe -> a second socketpair, both by splice on the ring.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  int out[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
  ASSERT_EQ(write(cfd, "spliced bytes", 13), 13);
  int in_res = 0, out_res = 0;
  Completion sin([&](int32_t v, uint32_t) { in_res = v; });
  Completion sout([&](int32_t v, uint32_t) { out_res = v; });
  r->splice(sfd, p[1], 65536, SPLICE_F_NONBLOCK, sin);
  run_until(*r, [&] { return !sin.in_flight(); });
  EXPECT_EQ(in_res, 13);
  r->splice(p[0], out[0], unsigned(in_res), SPLICE_F_NONBLOCK, sout);
  run_until(*r, [&] { return !sout.in_flight(); });
  EXPECT_EQ(out_res, 13);
  char buf[32] = {};
  ASSERT_EQ(read(out[1], buf, sizeof buf), 13);
  EXPECT_EQ(std::string(buf, 13), "spliced bytes");
  // Nothing to read: -EAGAIN rather than a parked worker.
  int fl = fcntl(sfd, F_GETFL);
  fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
  r->splice(sfd, p[1], 65536, SPLICE_F_NONBLOCK, sin);
  run_until(*r, [&] { return !sin.in_flight(); });
  EXPECT_EQ(in_res, -EAGAIN);
  for (int fd : {lfd, cfd, sfd, p[0], p[1], out[0], out[1]}) close(fd);
}

}  // namespace
}  // namespace berth::reactor
