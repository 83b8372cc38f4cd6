#include "netns/dns.h"

#include <fmt/format.h>

namespace berth::netns::dns {

namespace {

constexpr size_t kHeader = 12;
constexpr size_t kMaxNameWire = 255;
constexpr size_t kMaxLabel = 63;

// A bounds-checked reader over the packet.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> p, size_t at = 0) : p_(p), at_(at) {}
  size_t at() const { return at_; }
  bool u8(uint8_t* v) {
    if (at_ + 1 > p_.size()) return false;
    *v = p_[at_++];
    return true;
  }
  bool u16(uint16_t* v) {
    if (at_ + 2 > p_.size()) return false;
    *v = uint16_t(p_[at_] << 8 | p_[at_ + 1]);
    at_ += 2;
    return true;
  }
  bool u32(uint32_t* v) {
    uint16_t hi, lo;
    if (!u16(&hi) || !u16(&lo)) return false;
    *v = uint32_t(hi) << 16 | lo;
    return true;
  }
  bool bytes(size_t n, std::vector<uint8_t>* out) {
    if (n > p_.size() - at_) return false;
    out->assign(p_.begin() + long(at_), p_.begin() + long(at_ + n));
    at_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> p_;
  size_t at_;
};

Error bad(std::string_view why) { return Error::invalid("malformed DNS message: {}", why); }

// Reads a (possibly compressed) name starting at *at; on success *at is
// just past the name as it appears at that position. A compression pointer
// must point before the start of the run of labels it ends, so each jump
// goes strictly further back and loops are impossible.
Result<Name> read_name(std::span<const uint8_t> p, size_t* at) {
  Name n;
  size_t pos = *at, wire = 0, end = 0, run_start = *at;
  bool jumped = false;
  for (;;) {
    if (pos >= p.size()) return bad("name runs past the end");
    uint8_t len = p[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= p.size()) return bad("truncated compression pointer");
      size_t target = size_t(len & 0x3f) << 8 | p[pos + 1];
      if (target >= run_start) return bad("name compression loop");
      if (!jumped) end = pos + 2;
      jumped = true;
      pos = run_start = target;
      continue;
    }
    if (len & 0xc0) return bad("reserved label type");
    pos++;
    wire += 1 + len;
    if (wire > kMaxNameWire) return bad("name longer than 255 bytes");
    if (len == 0) break;
    if (pos + len > p.size()) return bad("label runs past the end");
    n.labels.emplace_back(reinterpret_cast<const char*>(p.data() + pos), len);
    pos += len;
  }
  *at = jumped ? end : pos;
  return n;
}

void put16(std::vector<uint8_t>& o, uint16_t v) {
  o.push_back(uint8_t(v >> 8));
  o.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  put16(o, uint16_t(v >> 16));
  put16(o, uint16_t(v));
}
void put_name(std::vector<uint8_t>& o, const Name& n) {
  for (const auto& l : n.labels) {
    o.push_back(uint8_t(l.size()));
    o.insert(o.end(), l.begin(), l.end());
  }
  o.push_back(0);
}

// Header and question of an answer to q.
std::vector<uint8_t> start_answer(const Query& q, Rcode rc, uint16_t ancount, bool aa, bool tc = false) {
  std::vector<uint8_t> o;
  o.reserve(kMaxUdp);
  put16(o, q.id);
  uint16_t flags = 0x8000 | uint16_t(q.opcode & 0xf) << 11 | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) |
                   (q.rd ? 0x0100 : 0) | 0x0080 | uint16_t(rc);
  put16(o, flags);
  put16(o, 1);
  put16(o, ancount);
  put16(o, 0);
  put16(o, 0);
  put_name(o, q.q.name);
  put16(o, q.q.qtype);
  put16(o, q.q.qclass);
  return o;
}

// An answer record whose owner is the question's name (pointer to 12).
void put_answer(std::vector<uint8_t>& o, uint16_t rtype, uint32_t ttl, std::span<const uint8_t> rdata) {
  put16(o, 0xc000 | kHeader);
  put16(o, rtype);
  put16(o, kClassIn);
  put32(o, ttl);
  put16(o, uint16_t(rdata.size()));
  o.insert(o.end(), rdata.begin(), rdata.end());
}

Result<Record> read_record(std::span<const uint8_t> p, size_t* at) {
  Record r;
  r.name = BERTH_TRY(read_name(p, at));
  Reader rd(p, *at);
  uint16_t len;
  if (!rd.u16(&r.rtype) || !rd.u16(&r.rclass) || !rd.u32(&r.ttl) || !rd.u16(&len)) return bad("truncated record");
  if (!rd.bytes(len, &r.rdata)) return bad("record data runs past the end");
  *at = rd.at();
  return r;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

}  // namespace

std::string Name::key() const {
  std::string k;
  for (const auto& l : labels) {
    if (!k.empty()) k += '.';
    for (char c : l) k += lower(c);
  }
  return k;
}

std::optional<Name> name_from_string(std::string_view s) {
  Name n;
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return n;
  size_t wire = 1;
  while (true) {
    size_t dot = s.find('.');
    std::string_view l = s.substr(0, dot);
    if (l.empty() || l.size() > kMaxLabel) return std::nullopt;
    wire += 1 + l.size();
    n.labels.emplace_back(l);
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  if (wire > kMaxNameWire) return std::nullopt;
  return n;
}

Result<Query> parse_query(std::span<const uint8_t> p) {
  Reader r(p);
  Query q;
  uint16_t flags, qd, an, ns, ar;
  if (!r.u16(&q.id) || !r.u16(&flags) || !r.u16(&qd) || !r.u16(&an) || !r.u16(&ns) || !r.u16(&ar))
    return bad("truncated header");
  if (flags & 0x8000) return bad("not a query");
  q.opcode = uint8_t(flags >> 11 & 0xf);
  q.rd = flags & 0x0100;
  if (qd != 1) return bad(fmt::format("{} questions", qd));
  size_t at = kHeader;
  q.q.name = BERTH_TRY(read_name(p, &at));
  Reader rq(p, at);
  if (!rq.u16(&q.q.qtype) || !rq.u16(&q.q.qclass)) return bad("truncated question");
  return q;
}

Result<Message> parse_message(std::span<const uint8_t> p) {
  Reader r(p);
  Message m;
  uint16_t counts[4];
  if (!r.u16(&m.id) || !r.u16(&m.flags)) return bad("truncated header");
  for (auto& c : counts)
    if (!r.u16(&c)) return bad("truncated header");
  size_t at = kHeader;
  for (unsigned i = 0; i < counts[0]; i++) {
    Question q;
    q.name = BERTH_TRY(read_name(p, &at));
    Reader rq(p, at);
    if (!rq.u16(&q.qtype) || !rq.u16(&q.qclass)) return bad("truncated question");
    at = rq.at();
    m.questions.push_back(std::move(q));
  }
  std::vector<Record>* sections[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3; s++)
    for (unsigned i = 0; i < counts[s + 1]; i++) sections[s]->push_back(BERTH_TRY(read_record(p, &at)));
  return m;
}

Result<Name> ptr_target(std::span<const uint8_t> p, const Record& r) {
  if (r.rtype != type::kPtr) return bad("not a PTR record");
  // The rdata was copied out; find it in the packet again to follow
  // pointers: parse the copy with the packet's bytes in front of it.
  std::vector<uint8_t> joined(p.begin(), p.end());
  size_t at = joined.size();
  joined.insert(joined.end(), r.rdata.begin(), r.rdata.end());
  return read_name(joined, &at);
}

std::vector<uint8_t> answer_a(const Query& q, std::span<const Ip4> addrs, uint32_t ttl, size_t max_size) {
  std::vector<uint8_t> o = start_answer(q, Rcode::kNoError, 0, true);
  uint16_t n = 0;
  bool tc = false;
  for (Ip4 ip : addrs) {
    if (o.size() + 16 > max_size) {
      tc = true;
      break;
    }
    uint8_t rdata[4] = {uint8_t(ip.value >> 24), uint8_t(ip.value >> 16), uint8_t(ip.value >> 8), uint8_t(ip.value)};
    put_answer(o, type::kA, ttl, rdata);
    n++;
  }
  o[6] = uint8_t(n >> 8);
  o[7] = uint8_t(n);
  if (tc) o[2] |= 0x02;
  return o;
}

std::vector<uint8_t> answer_ptr(const Query& q, const Name& target, uint32_t ttl) {
  std::vector<uint8_t> o = start_answer(q, Rcode::kNoError, 1, true);
  std::vector<uint8_t> rdata;
  put_name(rdata, target);
  put_answer(o, type::kPtr, ttl, rdata);
  return o;
}

std::vector<uint8_t> answer_empty(const Query& q) { return start_answer(q, Rcode::kNoError, 0, true); }

std::vector<uint8_t> answer_error(const Query& q, Rcode rc) {
  return start_answer(q, rc, 0, rc == Rcode::kNxDomain);
}

std::optional<std::vector<uint8_t>> answer_formerr(std::span<const uint8_t> p) {
  if (p.size() < kHeader || (p[2] & 0x80)) return std::nullopt;
  std::vector<uint8_t> o;
  put16(o, uint16_t(p[0] << 8 | p[1]));
  put16(o, uint16_t(0x8000 | (p[2] & 0x78) << 8 | (p[2] & 0x01) << 8 | 0x0080 | uint16_t(Rcode::kFormErr)));
  for (int i = 0; i < 4; i++) put16(o, 0);
  return o;
}

std::optional<Ip4> parse_reverse(const Name& n) {
  if (n.labels.size() != 6) return std::nullopt;
  Name tail;
  tail.labels = {n.labels[4], n.labels[5]};
  if (tail.key() != "in-addr.arpa") return std::nullopt;
  std::string dotted = fmt::format("{}.{}.{}.{}", n.labels[3], n.labels[2], n.labels[1], n.labels[0]);
  return parse_ip4(dotted);
}

Name reverse_name(Ip4 ip) {
  uint32_t v = ip.value;
  Name n;
  n.labels = {std::to_string(v & 0xff), std::to_string(v >> 8 & 0xff), std::to_string(v >> 16 & 0xff),
              std::to_string(v >> 24), "in-addr", "arpa"};
  return n;
}

uint16_t message_id(std::span<const uint8_t> p) { return p.size() < 2 ? 0 : uint16_t(p[0] << 8 | p[1]); }

void set_message_id(std::span<uint8_t> p, uint16_t id) {
  if (p.size() < 2) return;
  p[0] = uint8_t(id >> 8);
  p[1] = uint8_t(id);
}

}  // namespace berth::netns::dns
