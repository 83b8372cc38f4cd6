// Route-netlink plumbing for netns/ (internal: the engine calls link.h).
//
// Socket: a NETLINK_ROUTE socket (a libnl nl_sock, for libnl's dumps) bound
// in one network namespace: created by a thread that setns()s in and back.
//
// Batch: many requests sent with as few sendmsg(2) calls as fit (rtnetlink
// processes every message of one sendmsg in order, in the sender's context),
// then their acks read back, each matched to its request by sequence
// number. N requests cost about N/64 sendmsg+recv round trips instead of N.
// Errors carry the kernel's extended ack message when there is one
// (NETLINK_EXT_ACK): "create veth vethab12: File exists".
//
// Msg: a request under construction (libnl's nl_msg and nla_put_*).
//
// Threads: a Socket and a Batch belong to one thread at a time. Everything
// here BLOCKS on the kernel (rtnl_lock can be held for milliseconds by
// other work): job-pool threads only.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"

struct nl_sock;
struct nl_msg;

namespace berth::netns::nl {

class Socket {
 public:
  // A socket in `netns_fd` (< 0: the calling thread's namespace).
  static Result<Socket> open(int netns_fd = -1);
  Socket() = default;
  Socket(Socket&& o) noexcept;
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  nl_sock* sk() const { return sk_; }
  int fd() const;
  explicit operator bool() const { return sk_ != nullptr; }

 private:
  nl_sock* sk_ = nullptr;
};

class Msg {
 public:
  // nlmsg_alloc_simple(type, flags | NLM_F_REQUEST), then `hdr` (ifinfomsg,
  // ifaddrmsg, ...) appended.
  Msg(int type, int flags, const void* hdr, size_t hdr_len);
  Msg(Msg&&) noexcept;
  Msg& operator=(Msg&&) = delete;
  Msg(const Msg&) = delete;
  ~Msg();

  nl_msg* get() const { return m_; }
  void put(int attr, const void* data, size_t len);
  void put_u32(int attr, uint32_t v);
  void put_u8(int attr, uint8_t v);
  void put_string(int attr, const std::string& s);
  // Nests: begin returns a handle for end.
  void* begin(int attr);
  void end(void* nest);
  // Appends raw bytes at the tail (a nested ifinfomsg, as VETH_INFO_PEER needs).
  void append(const void* data, size_t len);

 private:
  nl_msg* m_ = nullptr;
};

class Batch {
 public:
  // Called for every non-ack message a request gets back (GET replies).
  using OnReply = std::function<void(size_t index, const nlmsghdr* h)>;

  // `what` names the request in its error ("create veth vethab12").
  size_t add(Msg msg, std::string what);
  size_t size() const { return reqs_.size(); }
  bool empty() const { return reqs_.empty(); }
  // Sends every request and waits for every ack; the results are in the
  // order of add(). The Batch is empty afterwards.
  std::vector<Result<void>> run(Socket& s, const OnReply& on_reply = {});

 private:
  struct Req { Msg msg; std::string what; };
  std::vector<Req> reqs_;
};

// Results all ok? Else the first error (with "and N more" when several).
Result<void> first_error(std::vector<Result<void>>& results);

}  // namespace berth::netns::nl
