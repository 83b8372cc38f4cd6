#include "netns/ipam.h"

#include <fmt/format.h>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/strings.h"

namespace berth::netns {

namespace {
constexpr size_t npos = size_t(-1);
}

Ipam::Ipam(const NetworkAddressing& a) : addr_(a) {
  size_t n = size_t(a.subnet.size());
  bits_.assign((n + 63) / 64, 0);
  set(0);
  set(n - 1);
  set(index(a.gateway));
  next_ = index(a.ip_range.network);
}

size_t Ipam::find_clear(size_t from, size_t to) const {
  if (from > to) return npos;
  size_t w = from >> 6;
  uint64_t word = ~bits_[w] & (~uint64_t(0) << (from & 63));
  for (;;) {
    if (word) {
      size_t i = (w << 6) + size_t(__builtin_ctzll(word));
      return i <= to ? i : npos;
    }
    if (++w > (to >> 6)) return npos;
    word = ~bits_[w];
  }
}

Result<Ip4> Ipam::allocate() {
  size_t lo = index(addr_.ip_range.network);
  size_t hi = index(addr_.ip_range.broadcast());
  size_t start = next_ < lo || next_ > hi ? lo : next_;
  size_t i = find_clear(start, hi);
  if (i == npos && start > lo) i = find_clear(lo, start - 1);
  if (i == npos) return Error::conflict("no available addresses on this pool");
  set(i);
  count_++;
  next_ = i + 1;
  return Ip4{addr_.subnet.network.value + uint32_t(i)};
}

bool Ipam::is_reserved(Ip4 ip) const {
  return ip == addr_.subnet.network || ip == addr_.subnet.broadcast() || ip == addr_.gateway;
}

Result<void> Ipam::reserve(Ip4 ip) {
  if (!addr_.subnet.contains(ip))
    return Error::invalid("no configured subnet or ip-range contain the IP address {}", to_string(ip));
  if (is_reserved(ip)) {
    const char* what = ip == addr_.gateway ? "gateway" : ip == addr_.subnet.network ? "network" : "broadcast";
    return Error::invalid("address {} is reserved ({})", to_string(ip), what);
  }
  size_t i = index(ip);
  if (test(i)) return Error::conflict("Address already in use: {}", to_string(ip));
  set(i);
  count_++;
  return ok();
}

bool Ipam::release(Ip4 ip) {
  if (!addr_.subnet.contains(ip) || is_reserved(ip)) return false;
  size_t i = index(ip);
  if (!test(i)) return false;
  clear(i);
  count_--;
  return true;
}

bool Ipam::is_allocated(Ip4 ip) const {
  return addr_.subnet.contains(ip) && !is_reserved(ip) && test(index(ip));
}

size_t Ipam::range_capacity() const {
  size_t n = size_t(addr_.ip_range.size());
  for (Ip4 r : {addr_.subnet.network, addr_.subnet.broadcast(), addr_.gateway})
    if (addr_.ip_range.contains(r)) n--;
  return n;
}

std::vector<Ip4> Ipam::allocated() const {
  std::vector<Ip4> out;
  out.reserve(count_);
  size_t n = size_t(addr_.subnet.size());
  for (size_t w = 0; w < bits_.size(); w++) {
    for (uint64_t word = bits_[w]; word; word &= word - 1) {
      size_t i = (w << 6) + size_t(__builtin_ctzll(word));
      if (i >= n) break;
      Ip4 ip{addr_.subnet.network.value + uint32_t(i)};
      if (!is_reserved(ip)) out.push_back(ip);
    }
  }
  return out;
}

std::vector<Ip4> Ipam::reconcile(std::span<const Ip4> in_use, std::vector<Ip4>* skipped) {
  Ipam fresh(addr_);
  fresh.next_ = next_;
  for (Ip4 ip : in_use) {
    if (!addr_.subnet.contains(ip) || is_reserved(ip)) {
      if (skipped) skipped->push_back(ip);
      continue;
    }
    if (!fresh.test(fresh.index(ip))) {
      fresh.set(fresh.index(ip));
      fresh.count_++;
    }
  }
  std::vector<Ip4> released;
  for (Ip4 ip : allocated())
    if (!fresh.is_allocated(ip)) released.push_back(ip);
  *this = std::move(fresh);
  return released;
}

std::string Ipam::encode() const {
  std::string out = fmt::format("berth-ipam 1\nsubnet {}\nrange {}\ngateway {}\nnext {}\n",
                                to_string(addr_.subnet), to_string(addr_.ip_range),
                                to_string(addr_.gateway),
                                to_string(Ip4{addr_.subnet.network.value + uint32_t(next_)}));
  std::vector<Ip4> ips = allocated();
  for (size_t i = 0; i < ips.size();) {
    size_t j = i;
    while (j + 1 < ips.size() && ips[j + 1].value == ips[j].value + 1) j++;
    if (j == i)
      out += fmt::format("alloc {}\n", to_string(ips[i]));
    else
      out += fmt::format("alloc {}-{}\n", to_string(ips[i]), to_string(ips[j]));
    i = j + 1;
  }
  out += "end\n";
  return out;
}

namespace {

// Reads the "key value" header lines in order.
struct Reader {
  std::vector<std::string> lines;
  size_t at = 0;
  std::string_view what;

  Error corrupt(std::string_view why) const {
    return Error(Code::kCorrupt, fmt::format("ipam file {} line {}: {}", what, at + 1, why));
  }
  Result<std::string> field(std::string_view key) {
    if (at >= lines.size()) return corrupt(fmt::format("missing \"{}\"", key));
    const std::string& l = lines[at];
    if (l.size() <= key.size() + 1 || l.compare(0, key.size(), key) != 0 || l[key.size()] != ' ')
      return corrupt(fmt::format("expected \"{} ...\", found \"{}\"", key, l));
    return l.substr(key.size() + 1);
  }
};

}  // namespace

Result<Ipam> Ipam::decode(std::string_view text, std::string_view what) {
  Reader r{split(text, '\n'), 0, what};
  if (!r.lines.empty() && r.lines.back().empty()) r.lines.pop_back();
  if (r.lines.empty() || r.lines[0] != "berth-ipam 1")
    return r.corrupt("not a berth-ipam 1 file");
  r.at = 1;
  std::string subnet = BERTH_TRY(r.field("subnet"));
  r.at++;
  std::string range = BERTH_TRY(r.field("range"));
  r.at++;
  std::string gateway = BERTH_TRY(r.field("gateway"));
  auto a = parse_addressing(subnet, range, gateway);
  if (!a) return r.corrupt(a.error().message());
  r.at++;
  Ipam ipam(*a);
  std::string next = BERTH_TRY(r.field("next"));
  auto nip = parse_ip4(next);
  if (!nip || !a->subnet.contains(*nip)) return r.corrupt(fmt::format("bad next address \"{}\"", next));
  ipam.next_ = ipam.index(*nip);
  for (r.at++; r.at < r.lines.size() && r.lines[r.at] != "end"; r.at++) {
    std::string v = BERTH_TRY(r.field("alloc"));
    size_t dash = v.find('-');
    auto first = parse_ip4(std::string_view(v).substr(0, dash));
    auto last = dash == std::string::npos ? first : parse_ip4(std::string_view(v).substr(dash + 1));
    if (!first || !last || *last < *first || !a->subnet.contains(*first) || !a->subnet.contains(*last))
      return r.corrupt(fmt::format("bad address range \"{}\"", v));
    for (uint64_t ip = first->value; ip <= last->value; ip++) {
      if (ipam.is_reserved(Ip4{uint32_t(ip)}) || ipam.test(ipam.index(Ip4{uint32_t(ip)})))
        return r.corrupt(fmt::format("address {} listed twice or reserved", to_string(Ip4{uint32_t(ip)})));
      ipam.set(ipam.index(Ip4{uint32_t(ip)}));
      ipam.count_++;
    }
  }
  if (r.at >= r.lines.size()) return r.corrupt("truncated: no \"end\" line");
  if (r.at + 1 != r.lines.size()) {
    r.at++;
    return r.corrupt("data after \"end\"");
  }
  return ipam;
}

Result<Ipam> Ipam::load(const std::string& path) {
  std::string text = BERTH_TRY_CTX(read_file(path, 64 << 20), "load ipam");
  return decode(text, path);
}

Result<void> Ipam::save(const std::string& path) const {
  auto r = write_file_atomic(path, encode(), 0644, true);
  if (!r) return std::move(r.error()).context("save ipam {}", path);
  return ok();
}

std::string ipam_path(std::string_view dir, std::string_view network_id) {
  return fmt::format("{}/{}.ipam", dir, network_id);
}

}  // namespace berth::netns
