#include "netns/dns.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace berth::netns::dns {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}

// A query as a resolver sends it: id, RD, one question.
Bytes query(const std::string& name, uint16_t qtype, uint16_t id = 0x1234, uint16_t flags = 0x0100) {
  Bytes b;
  put16(b, id);
  put16(b, flags);
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  put16(b, 0);
  auto n = name_from_string(name);
  EXPECT_TRUE(n);
  for (const auto& l : n->labels) {
    b.push_back(uint8_t(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
  put16(b, qtype);
  put16(b, kClassIn);
  return b;
}

Ip4 ip(const char* s) { return *parse_ip4(s); }

TEST(Dns, ParsesAQuery) {
  Bytes b = query("Web.Example.", type::kA);
  auto q = parse_query(b);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_TRUE(q->rd);
  EXPECT_EQ(q->q.qtype, type::kA);
  EXPECT_EQ(q->q.name.key(), "web.example");
  EXPECT_EQ(q->q.name.labels[0], "Web");  // case kept for the echo
}

TEST(Dns, AnswerAEchoesQuestionAndCase) {
  auto q = parse_query(query("C1.net", type::kA, 0xbeef));
  ASSERT_TRUE(q);
  std::vector<Ip4> addrs = {ip("10.88.0.2"), ip("10.88.0.3")};
  Bytes a = answer_a(*q, addrs, 600);
  auto m = parse_message(a);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->id, 0xbeef);
  EXPECT_TRUE(m->qr());
  EXPECT_EQ(m->flags & 0x0400, 0x0400);  // AA
  EXPECT_EQ(m->flags & 0x0100, 0x0100);  // RD echoed
  EXPECT_EQ(m->flags & 0x0080, 0x0080);  // RA
  EXPECT_EQ(m->rcode(), Rcode::kNoError);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0].name.labels[0], "C1");
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].name.key(), "c1.net");  // via the compression pointer
  EXPECT_EQ(m->answers[0].ttl, 600u);
  EXPECT_EQ(m->answers[1].rdata, (Bytes{10, 88, 0, 3}));
  // The wire form: the answer's owner is the pointer 0xc00c.
  size_t qend = 12 + 1 + 2 + 1 + 3 + 1 + 4;
  EXPECT_EQ(a[qend], 0xc0);
  EXPECT_EQ(a[qend + 1], 0x0c);
}

TEST(Dns, TruncatesToFit) {
  auto q = parse_query(query("many", type::kA));
  std::vector<Ip4> addrs;
  for (int i = 0; i < 100; i++) addrs.push_back(Ip4{ip("10.0.0.0").value + uint32_t(i)});
  Bytes a = answer_a(*q, addrs, 60);
  EXPECT_LE(a.size(), kMaxUdp);
  auto m = parse_message(a);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->tc());
  EXPECT_EQ(m->answers.size(), (kMaxUdp - 12 - 10) / 16);
}

TEST(Dns, EmptyErrorsAndPtr) {
  auto q = parse_query(query("c1", type::kAaaa, 7));
  auto m = parse_message(answer_empty(*q));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), Rcode::kNoError);
  EXPECT_TRUE(m->answers.empty());
  m = parse_message(answer_error(*q, Rcode::kNxDomain));
  EXPECT_EQ(m->rcode(), Rcode::kNxDomain);
  m = parse_message(answer_error(*q, Rcode::kServFail));
  EXPECT_EQ(m->rcode(), Rcode::kServFail);
  EXPECT_EQ(m->id, 7);

  Name rev = reverse_name(ip("10.88.0.2"));
  EXPECT_EQ(rev.key(), "2.0.88.10.in-addr.arpa");
  EXPECT_EQ(parse_reverse(rev), ip("10.88.0.2"));
  EXPECT_FALSE(parse_reverse(*name_from_string("2.0.88.10.ip6.arpa")));
  EXPECT_FALSE(parse_reverse(*name_from_string("x.0.88.10.in-addr.arpa")));
  auto pq = parse_query(query("2.0.88.10.IN-ADDR.ARPA", type::kPtr));
  ASSERT_TRUE(pq);
  EXPECT_EQ(parse_reverse(pq->q.name), ip("10.88.0.2"));
  Bytes a = answer_ptr(*pq, *name_from_string("c1.mynet"), 600);
  m = parse_message(a);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 1u);
  auto target = ptr_target(a, m->answers[0]);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->key(), "c1.mynet");
}

TEST(Dns, CompressedNamesInParsing) {
  // A response with the answer's owner and a CNAME target compressed.
  Bytes b = query("www.example.com", type::kA, 1, 0x8180);
  b[7] = 2;  // two answers
  put16(b, 0xc00c);           // www.example.com
  put16(b, type::kCname);
  put16(b, kClassIn);
  put16(b, 0);
  put16(b, 60);
  put16(b, 6);                // rdata: "web" + pointer to example.com
  b.insert(b.end(), {3, 'w', 'e', 'b', 0xc0, 16});
  size_t web = b.size() - 6;
  put16(b, uint16_t(0xc000 | web));  // web.example.com
  put16(b, type::kA);
  put16(b, kClassIn);
  put16(b, 0);
  put16(b, 60);
  put16(b, 4);
  b.insert(b.end(), {1, 2, 3, 4});
  auto m = parse_message(b);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].name.key(), "www.example.com");
  EXPECT_EQ(m->answers[1].name.key(), "web.example.com");
}

TEST(Dns, MalformedPacketsAreErrors) {
  struct Case { Bytes b; std::string msg; };
  Bytes good = query("a.b", type::kA);
  Bytes loop = good;
  loop.resize(12);
  loop.insert(loop.end(), {1, 'a', 0xc0, 12});  // points at itself's start: not backwards
  Bytes fwd = good;
  fwd.resize(12);
  fwd.insert(fwd.end(), {0xc0, 20, 0, 0, 0, 0, 0, 0, 0, 0});
  Bytes label64 = good;
  label64.resize(12);
  label64.push_back(64);
  Bytes longname = good;
  longname.resize(12);
  for (int i = 0; i < 5; i++) {
    longname.push_back(63);
    longname.insert(longname.end(), 63, 'x');
  }
  longname.push_back(0);
  put16(longname, 1);
  put16(longname, 1);
  Bytes two = good;
  two[5] = 2;
  Bytes resp = good;
  resp[2] |= 0x80;
  std::vector<Case> cases = {
      {{}, "malformed DNS message: truncated header"},
      {Bytes(11, 0), "malformed DNS message: truncated header"},
      {Bytes(good.begin(), good.end() - 1), "malformed DNS message: truncated question"},
      {Bytes(good.begin(), good.begin() + 13), "malformed DNS message: label runs past the end"},
      {Bytes(good.begin(), good.begin() + 12), "malformed DNS message: name runs past the end"},
      {loop, "malformed DNS message: name compression loop"},
      {fwd, "malformed DNS message: name compression loop"},
      {label64, "malformed DNS message: reserved label type"},
      {longname, "malformed DNS message: name longer than 255 bytes"},
      {two, "malformed DNS message: 2 questions"},
      {resp, "malformed DNS message: not a query"},
  };
  for (const auto& c : cases) {
    auto q = parse_query(c.b);
    ASSERT_FALSE(q) << c.msg;
    EXPECT_EQ(q.error().message(), c.msg);
    EXPECT_EQ(q.error().code(), Code::kInvalidArgument);
  }
  // FORMERR for a broken query with a header; nothing for a response or a
  // scrap.
  auto f = answer_formerr(two);
  ASSERT_TRUE(f);
  auto m = parse_message(*f);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), Rcode::kFormErr);
  EXPECT_EQ(m->id, 0x1234);
  EXPECT_FALSE(answer_formerr(resp));
  EXPECT_FALSE(answer_formerr(Bytes(5, 0)));
}

TEST(Dns, NamesFromStrings) {
  EXPECT_EQ(name_from_string("a.b.")->key(), "a.b");
  EXPECT_EQ(name_from_string("")->labels.size(), 0u);
  EXPECT_FALSE(name_from_string("a..b"));
  EXPECT_FALSE(name_from_string(std::string(64, 'x')));
  std::string big;
  for (int i = 0; i < 4; i++) big += std::string(63, 'x') + ".";
  EXPECT_FALSE(name_from_string(big));  // 256 bytes on the wire
}

// Random mutations and random bytes: never a crash, never a read past the
// end (the unit build runs under ASan), every answer parses back.
TEST(Dns, RandomInputNeverCrashes) {
  std::mt19937 rng(12345);
  std::vector<Bytes> seeds = {query("web.example.com", type::kA), query("2.0.88.10.in-addr.arpa", type::kPtr)};
  seeds.push_back(answer_a(*parse_query(seeds[0]), std::vector<Ip4>{ip("1.2.3.4")}, 5));
  int parsed = 0;
  for (int i = 0; i < 200000; i++) {
    Bytes b = seeds[size_t(i) % seeds.size()];
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; e++) {
      switch (rng() % 3) {
        case 0: b[rng() % b.size()] = uint8_t(rng()); break;
        case 1: b.resize(rng() % (b.size() + 1)); if (b.empty()) b.push_back(0); break;
        case 2: b.insert(b.begin() + long(rng() % b.size()), uint8_t(rng())); break;
      }
    }
    if (i % 7 == 0) {
      b.resize(rng() % 64);
      for (auto& x : b) x = uint8_t(rng());
    }
    auto q = parse_query(b);
    (void)parse_message(b);
    (void)answer_formerr(b);
    if (q) {
      parsed++;
      ASSERT_TRUE(parse_message(answer_a(*q, std::vector<Ip4>{ip("10.0.0.1")}, 1)));
      ASSERT_TRUE(parse_message(answer_error(*q, Rcode::kNxDomain)));
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace berth::netns::dns
