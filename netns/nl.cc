#include "netns/nl.h"

#include <sys/socket.h>

#include <atomic>
#include <cstring>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "core/base/assert.h"
#include "netns/enter.h"

namespace berth::netns::nl {

namespace {

// Requests per sendmsg: their acks (about 1 KiB of receive buffer each as
// skbs) must fit the socket's receive buffer or the kernel drops them.
constexpr size_t kMaxPerSend = 64;
constexpr size_t kMaxBytesPerSend = 48 << 10;
constexpr int kRecvBuffer = 4 << 20;

// Sequence numbers for batch requests, far from libnl's own (which start at
// the time of day) and unique across sockets of this process.
std::atomic<uint32_t> g_seq{0x40000000};

std::string errno_text(int err, const std::string& ext) {
  std::string s = std::strerror(err);
  if (!ext.empty()) s += " (" + ext + ")";
  return s;
}

// The kernel's extended ack message (NLMSGERR_ATTR_MSG), if any.
std::string ext_ack_message(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  // Without NLM_F_CAPPED the kernel echoed the whole request.
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  const char* p = reinterpret_cast<const char*>(h) + off;
  const char* endp = reinterpret_cast<const char*>(h) + h->nlmsg_len;
  while (p + sizeof(nlattr) <= endp) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || p + a->nla_len > endp) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = p + NLA_HDRLEN;
      return std::string(s, strnlen(s, a->nla_len - NLA_HDRLEN));
    }
    p += NLA_ALIGN(a->nla_len);
  }
  return {};
}

}  // namespace

Result<Socket> Socket::open(int netns_fd) {
  unique_fd fd = BERTH_TRY_CTX(socket_in_netns(netns_fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE),
                               "open route netlink socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Root may go past rmem_max (SO_RCVBUFFORCE); a smaller buffer still works
  // since batches are cut to fit.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kRecvBuffer, sizeof kRecvBuffer) < 0)
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kRecvBuffer, sizeof kRecvBuffer);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0)
    return Error::sys(errno, "bind route netlink socket");
  Socket s;
  s.sk_ = nl_socket_alloc();
  if (!s.sk_) return Error::make(Code::kSystem, "open route netlink socket: out of memory");
  int rc = nl_socket_set_fd(s.sk_, NETLINK_ROUTE, fd.get());
  if (rc < 0) return Error::make(Code::kSystem, "open route netlink socket: {}", nl_geterror(rc));
  fd.release();  // libnl owns it now
  return s;
}

Socket::Socket(Socket&& o) noexcept : sk_(std::exchange(o.sk_, nullptr)) {}
Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    if (sk_) nl_socket_free(sk_);
    sk_ = std::exchange(o.sk_, nullptr);
  }
  return *this;
}
Socket::~Socket() {
  if (sk_) nl_socket_free(sk_);  // closes the fd
}
int Socket::fd() const { return nl_socket_get_fd(sk_); }

Msg::Msg(int type, int flags, const void* hdr, size_t hdr_len) {
  m_ = nlmsg_alloc_simple(type, flags | NLM_F_REQUEST);
  BERTH_ASSERT_MSG(m_, "nlmsg_alloc_simple: out of memory");
  if (hdr_len) append(hdr, hdr_len);
}
Msg::Msg(Msg&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
Msg::~Msg() {
  if (m_) nlmsg_free(m_);
}

// libnl's default message size is a page; our requests are a few hundred
// bytes, so a failed put is a bug, not an error.
void Msg::put(int attr, const void* data, size_t len) {
  BERTH_ASSERT(nla_put(m_, attr, int(len), data) == 0);
}
void Msg::put_u32(int attr, uint32_t v) { BERTH_ASSERT(nla_put_u32(m_, attr, v) == 0); }
void Msg::put_u8(int attr, uint8_t v) { BERTH_ASSERT(nla_put_u8(m_, attr, v) == 0); }
void Msg::put_string(int attr, const std::string& s) { BERTH_ASSERT(nla_put_string(m_, attr, s.c_str()) == 0); }
void* Msg::begin(int attr) {
  nlattr* n = nla_nest_start(m_, attr);
  BERTH_ASSERT(n);
  return n;
}
void Msg::end(void* nest) { nla_nest_end(m_, static_cast<nlattr*>(nest)); }
void Msg::append(const void* data, size_t len) {
  BERTH_ASSERT(nlmsg_append(m_, const_cast<void*>(data), len, NLMSG_ALIGNTO) == 0);
}

size_t Batch::add(Msg msg, std::string what) {
  reqs_.push_back(Req{std::move(msg), std::move(what)});
  return reqs_.size() - 1;
}

std::vector<Result<void>> Batch::run(Socket& s, const OnReply& on_reply) {
  std::vector<Result<void>> out(reqs_.size());
  std::vector<bool> done(reqs_.size(), false);
  std::vector<char> sendbuf;
  std::vector<char> recvbuf(64 << 10);
  size_t next = 0;
  while (next < reqs_.size()) {
    // One sendmsg worth of requests.
    size_t first = next;
    uint32_t base = g_seq.fetch_add(uint32_t(kMaxPerSend));
    sendbuf.clear();
    while (next < reqs_.size() && next - first < kMaxPerSend) {
      nlmsghdr* h = nlmsg_hdr(reqs_[next].msg.get());
      size_t len = NLMSG_ALIGN(h->nlmsg_len);
      if (next > first && sendbuf.size() + len > kMaxBytesPerSend) break;
      h->nlmsg_flags |= NLM_F_ACK;
      h->nlmsg_seq = base + uint32_t(next - first);
      h->nlmsg_pid = 0;
      size_t at = sendbuf.size();
      sendbuf.resize(at + len, 0);
      std::memcpy(sendbuf.data() + at, h, h->nlmsg_len);
      next++;
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = ::sendto(s.fd(), sendbuf.data(), sendbuf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      for (size_t i = first; i < next; i++)
        out[i] = Error(Error::code_for_errno(e), reqs_[i].what + ": send: " + std::strerror(e), e);
      continue;
    }
    size_t pending = next - first;
    while (pending > 0) {
      ssize_t r = ::recv(s.fd(), recvbuf.data(), recvbuf.size(), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        // ENOBUFS: acks were dropped; the requests' fate is unknown.
        int e = errno;
        for (size_t i = first; i < next; i++)
          if (!done[i]) {
            out[i] = Error(Error::code_for_errno(e), reqs_[i].what + ": receive ack: " + std::strerror(e), e);
            done[i] = true;
          }
        break;
      }
      int len = int(r);
      for (auto* h = reinterpret_cast<nlmsghdr*>(recvbuf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        uint32_t idx = h->nlmsg_seq - base;
        if (h->nlmsg_seq < base || idx >= next - first) continue;  // not ours (a late reply)
        size_t i = first + idx;
        if (h->nlmsg_type != NLMSG_ERROR) {
          if (on_reply && !done[i]) on_reply(i, h);
          continue;
        }
        if (done[i]) continue;
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error != 0) {
          int err = -e->error;
          out[i] = Error(Error::code_for_errno(err), reqs_[i].what + ": " + errno_text(err, ext_ack_message(h)), err);
        }
        done[i] = true;
        pending--;
      }
    }
  }
  reqs_.clear();
  return out;
}

Result<void> first_error(std::vector<Result<void>>& results) {
  size_t failed = 0;
  Error first;
  for (auto& r : results)
    if (!r) {
      if (failed++ == 0) first = std::move(r.error());
    }
  if (failed == 0) return ok();
  if (failed > 1) first.context("{} requests failed; first", failed);
  return first;
}

}  // namespace berth::netns::nl
