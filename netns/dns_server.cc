#include "netns/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/base/assert.h"
#include "netns/enter.h"

namespace berth::netns {

namespace {

constexpr size_t kMaxReplies = 1024;  // answers waiting for their send

std::string name_key(std::string_view name) {
  std::string k(name);
  if (!k.empty() && k.back() == '.') k.pop_back();
  for (char& c : k)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return k;
}

}  // namespace

Result<Upstream> parse_upstream(std::string_view ip, uint16_t port) {
  Upstream u;
  std::string s(ip);
  if (auto v4 = parse_ip4(s)) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&u.addr);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr = to_in_addr(*v4);
    u.len = sizeof(sockaddr_in);
    u.text = fmt::format("{}:{}", s, port);
    return u;
  }
  auto* sa6 = reinterpret_cast<sockaddr_in6*>(&u.addr);
  if (inet_pton(AF_INET6, s.c_str(), &sa6->sin6_addr) == 1) {
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = htons(port);
    u.len = sizeof(sockaddr_in6);
    u.text = fmt::format("[{}]:{}", s, port);
    return u;
  }
  return Error::invalid("DNS server \"{}\": not an IP address", ip);
}

struct DnsServer::Reply {
  std::list<std::unique_ptr<Reply>>::iterator self;
  std::vector<uint8_t> data;
  sockaddr_in to{};
  iovec iov{};
  msghdr msg{};
  reactor::Completion c;
};

struct DnsServer::Forward {
  std::list<std::unique_ptr<Forward>>::iterator self;
  dns::Query q;                 // the client's query (its id)
  std::vector<uint8_t> packet;  // as the client sent it; our id while out
  sockaddr_in client{};
  std::vector<Upstream> ups;
  size_t next = 0;              // the next upstream to try
  unique_fd fd;
  uint16_t id = 0;
  bool answered = false;
  bool finishing = false;
  reactor::Completion send_c, recv_c, timer_c;
  __kernel_timespec ts{};
  uint8_t buf[4096];

  bool busy() const { return send_c.in_flight() || recv_c.in_flight() || timer_c.in_flight(); }
};

DnsServer::DnsServer(reactor::Reactor& r, const DnsServerOptions& o) : r_(r), opts_(o), rng_(std::random_device{}()) {}

DnsServer::~DnsServer() {
  BERTH_ASSERT_MSG(!rx_.in_flight() && forwards_.empty() && replies_.empty(),
                   "DnsServer destroyed before stop() finished");
}

Result<std::unique_ptr<DnsServer>> DnsServer::start(reactor::Reactor& r, const DnsServerOptions& o) {
  std::unique_ptr<DnsServer> s(new DnsServer(r, o));
  std::string where = fmt::format("dns {}:{}", to_string(o.address), o.port);
  s->fd_ = BERTH_TRY_CTX(socket_in_netns(o.netns_fd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), "{}", where);
  int one = 1;
  // The gateway address may not be on the bridge yet (or again, after a
  // restart): bind anyway, packets arrive once it is.
  ::setsockopt(s->fd_.get(), SOL_IP, IP_FREEBIND, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.port);
  sa.sin_addr = to_in_addr(o.address);
  if (::bind(s->fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Error::sys(errno, "{}: bind", where);
  s->arm_receive();
  return s;
}

void DnsServer::add_name(std::string_view name, Ip4 ip) {
  std::string k = name_key(name);
  if (k.empty()) return;
  auto& ips = names_[k];
  if (std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(ip);
  auto& ns = names_of_[ip.value];
  if (std::find(ns.begin(), ns.end(), k) == ns.end()) ns.push_back(k);
}

void DnsServer::remove_name(std::string_view name, Ip4 ip) {
  std::string k = name_key(name);
  if (auto it = names_.find(k); it != names_.end()) {
    std::erase(it->second, ip);
    if (it->second.empty()) names_.erase(it);
  }
  if (auto it = names_of_.find(ip.value); it != names_of_.end()) {
    std::erase(it->second, k);
    if (it->second.empty()) names_of_.erase(it);
  }
}

void DnsServer::remove_address(Ip4 ip) {
  auto it = names_of_.find(ip.value);
  if (it == names_of_.end()) return;
  std::vector<std::string> ns = it->second;
  for (const auto& n : ns) remove_name(n, ip);
}

void DnsServer::set_client_upstreams(Ip4 client, std::vector<Upstream> ups) {
  client_upstreams_[client.value] = std::move(ups);
}

void DnsServer::clear_client_upstreams(Ip4 client) { client_upstreams_.erase(client.value); }

void DnsServer::arm_receive() {
  rx_iov_ = {rx_buf_, sizeof rx_buf_};
  rx_msg_ = {};
  rx_msg_.msg_name = &rx_from_;
  rx_msg_.msg_namelen = sizeof rx_from_;
  rx_msg_.msg_iov = &rx_iov_;
  rx_msg_.msg_iovlen = 1;
  rx_.set_callback([this](int32_t res, uint32_t) { receive_done(res); });
  r_.recvmsg(fd_.get(), &rx_msg_, rx_);
}

void DnsServer::receive_done(int32_t res) {
  if (stopping_) return maybe_stopped();
  if (res >= 0) handle(std::span<const uint8_t>(rx_buf_, size_t(res)), rx_from_);
  arm_receive();
}

void DnsServer::handle(std::span<const uint8_t> packet, const sockaddr_in& from) {
  stats_.queries++;
  auto q = dns::parse_query(packet);
  if (!q) {
    stats_.malformed++;
    if (auto f = dns::answer_formerr(packet)) send_reply(std::move(*f), from);
    return;
  }
  if (q->opcode != 0) return send_reply(dns::answer_error(*q, dns::Rcode::kNotImp), from);
  std::string key = q->q.name.key();
  if (q->q.qtype == dns::type::kPtr) {
    if (auto ip = dns::parse_reverse(q->q.name)) {
      if (auto it = names_of_.find(ip->value); it != names_of_.end()) {
        stats_.local++;
        return send_reply(dns::answer_ptr(*q, *dns::name_from_string(it->second.front()), opts_.ttl), from);
      }
    }
  } else if (auto it = names_.find(key); it != names_.end() && q->q.qclass == dns::kClassIn) {
    stats_.local++;
    if (q->q.qtype != dns::type::kA && q->q.qtype != dns::type::kAny) return send_reply(dns::answer_empty(*q), from);
    std::vector<Ip4> ips = it->second;
    std::rotate(ips.begin(), ips.begin() + long(rotate_++ % ips.size()), ips.end());
    return send_reply(dns::answer_a(*q, ips, opts_.ttl), from);
  }
  forward(*q, packet, from);
}

void DnsServer::send_reply(std::vector<uint8_t> data, const sockaddr_in& to) {
  if (stopping_ || replies_.size() >= kMaxReplies) return;
  auto& rep = replies_.emplace_back(std::make_unique<Reply>());
  Reply& rp = *rep;
  rp.self = std::prev(replies_.end());
  rp.data = std::move(data);
  rp.to = to;
  rp.iov = {rp.data.data(), rp.data.size()};
  rp.msg.msg_name = &rp.to;
  rp.msg.msg_namelen = sizeof rp.to;
  rp.msg.msg_iov = &rp.iov;
  rp.msg.msg_iovlen = 1;
  // Erased after the callback returns, never inside it.
  rp.c.set_callback([this, it = rp.self](int32_t, uint32_t) {
    r_.defer([this, it] {
      replies_.erase(it);
      maybe_stopped();
    });
  });
  r_.sendmsg(fd_.get(), &rp.msg, rp.c);
}

void DnsServer::forward(const dns::Query& q, std::span<const uint8_t> packet, const sockaddr_in& from) {
  auto cu = client_upstreams_.find(from_in_addr(from.sin_addr).value);
  const std::vector<Upstream>& ups = cu != client_upstreams_.end() ? cu->second : opts_.upstreams;
  if (ups.empty()) return send_reply(dns::answer_error(q, dns::Rcode::kNxDomain), from);
  if (forwards_.size() >= opts_.max_forwards) {
    stats_.busy++;
    stats_.servfail++;
    return send_reply(dns::answer_error(q, dns::Rcode::kServFail), from);
  }
  stats_.forwarded++;
  auto& fw = forwards_.emplace_back(std::make_unique<Forward>());
  Forward& f = *fw;
  f.self = std::prev(forwards_.end());
  f.q = q;
  f.packet.assign(packet.begin(), packet.end());
  f.client = from;
  f.ups = ups;
  f.ts.tv_sec = opts_.timeout_ms / 1000;
  f.ts.tv_nsec = (opts_.timeout_ms % 1000) * 1000000LL;
  Forward* fp = &f;
  f.send_c.set_callback([this, fp](int32_t res, uint32_t) {
    if (res < 0) {
      r_.cancel(fp->recv_c);
      r_.cancel(fp->timer_c);
    }
    forward_event(*fp);
  });
  f.recv_c.set_callback([this, fp](int32_t res, uint32_t) {
    Forward& f = *fp;
    if (res > 0 && !stopping_) {
      std::span<uint8_t> got(f.buf, size_t(res));
      auto m = dns::parse_message(got);
      bool ours = m && m->qr() && m->id == f.id && !m->questions.empty() &&
                  m->questions[0].name.key() == f.q.q.name.key() && m->questions[0].qtype == f.q.q.qtype;
      if (ours) {
        dns::set_message_id(got, f.q.id);
        send_reply(std::vector<uint8_t>(got.begin(), got.end()), f.client);
        f.answered = true;
        r_.cancel(f.timer_c);
      } else if (f.timer_c.in_flight()) {
        r_.recv(f.fd.get(), f.buf, sizeof f.buf, f.recv_c);  // not the answer: keep waiting
      }
    } else {
      r_.cancel(f.timer_c);  // refused (ICMP), cancelled, or stopping
    }
    forward_event(f);
  });
  f.timer_c.set_callback([this, fp](int32_t res, uint32_t) {
    if (res == -ETIME) {
      stats_.timeouts++;
      r_.cancel(fp->recv_c);
      r_.cancel(fp->send_c);
    }
    forward_event(*fp);
  });
  try_upstream(f);
}

void DnsServer::try_upstream(Forward& f) {
  while (f.next < f.ups.size()) {
    const Upstream& u = f.ups[f.next++];
    auto fd = socket_in_netns(opts_.upstream_netns_fd, u.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (!fd) continue;
    if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&u.addr), u.len) < 0) continue;
    f.fd = std::move(*fd);
    f.id = uint16_t(rng_());
    dns::set_message_id(f.packet, f.id);
    r_.send(f.fd.get(), f.packet.data(), unsigned(f.packet.size()), f.send_c);
    r_.recv(f.fd.get(), f.buf, sizeof f.buf, f.recv_c);
    r_.timeout(&f.ts, f.timer_c);
    return;
  }
  stats_.servfail++;
  send_reply(dns::answer_error(f.q, dns::Rcode::kServFail), f.client);
  finish_forward(f);
}

void DnsServer::forward_event(Forward& f) {
  if (f.busy() || f.finishing) return;
  f.fd.reset();
  if (f.answered || stopping_) return finish_forward(f);
  try_upstream(f);
}

void DnsServer::finish_forward(Forward& f) {
  if (f.finishing) return;
  f.finishing = true;
  r_.defer([this, it = f.self] {
    forwards_.erase(it);
    maybe_stopped();
  });
}

void DnsServer::stop(std::function<void()> done) {
  on_stopped_ = std::move(done);
  stopping_ = true;
  r_.cancel(rx_);
  for (auto& f : forwards_) {
    r_.cancel(f->send_c);
    r_.cancel(f->recv_c);
    r_.cancel(f->timer_c);
  }
  maybe_stopped();
}

void DnsServer::maybe_stopped() {
  if (!stopping_ || stopped_ || rx_.in_flight() || !replies_.empty() || !forwards_.empty()) return;
  stopped_ = true;
  if (on_stopped_) r_.defer(std::move(on_stopped_));
}

}  // namespace berth::netns
