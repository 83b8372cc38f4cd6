// A DNS message codec (RFC 1035) for berth's responder: parse queries, build
// answers (A, an empty NOERROR for AAAA and other types of a known name,
// PTR, NXDOMAIN, SERVFAIL, FORMERR, NOTIMP), and parse whole messages with
// compressed names (upstream answers, tests).
//
// Threads: pure functions on byte spans; any thread; never block. They never
// read outside the span they are given and never crash on any input (the
// unit tests feed them truncated, looping and random packets): malformed
// input is an error value.
//
// Names are lists of labels as they came (case kept: resolvers using the
// 0x20 trick check that the answer echoes it); key() gives the lowercase
// dotted form used for lookups ("web.example"). The root name has no labels.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "netns/subnet.h"

namespace berth::netns::dns {

namespace type {
constexpr uint16_t kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28,
                   kSrv = 33, kOpt = 41, kAny = 255;
}
constexpr uint16_t kClassIn = 1;
// Largest UDP message without EDNS (RFC 1035 4.2.1).
constexpr size_t kMaxUdp = 512;

enum class Rcode : uint8_t {
  kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5,
};

struct Name {
  std::vector<std::string> labels;
  // Lowercase, dot-separated, no trailing dot; "" for the root.
  std::string key() const;
};
// "web.example." or "web.example" -> labels; empty labels, labels over 63
// bytes or names over 255 bytes on the wire are refused.
std::optional<Name> name_from_string(std::string_view s);

struct Question {
  Name name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct Query {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false;  // recursion desired, echoed in the answer
  Question q;
};

// A query: header with QR clear and exactly one question. Other sections
// are not read (an OPT record is fine; berth answers within 512 bytes).
// Errors (kInvalidArgument) say what is wrong: "truncated header",
// "not a query", "2 questions", "name compression loop", ...
Result<Query> parse_query(std::span<const uint8_t> packet);

struct Record {
  Name name;
  uint16_t rtype = 0, rclass = 0;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;
};
struct Message {
  uint16_t id = 0;
  uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, RCODE as on the wire
  std::vector<Question> questions;
  std::vector<Record> answers, authority, additional;
  bool qr() const { return flags & 0x8000; }
  bool tc() const { return flags & 0x0200; }
  Rcode rcode() const { return Rcode(flags & 0xf); }
};
// Any message, every section, names decompressed.
Result<Message> parse_message(std::span<const uint8_t> packet);
// The name of a PTR record's rdata (which may be compressed against the
// packet).
Result<Name> ptr_target(std::span<const uint8_t> packet, const Record& r);

// Answers. Each echoes the id, the opcode, RD and the question; sets QR, AA
// and RA. An A answer that does not fit `max_size` keeps the records that
// fit and sets TC.
std::vector<uint8_t> answer_a(const Query& q, std::span<const Ip4> addrs, uint32_t ttl, size_t max_size = kMaxUdp);
std::vector<uint8_t> answer_ptr(const Query& q, const Name& target, uint32_t ttl);
// NOERROR without records (a name berth knows, a type it has none of).
std::vector<uint8_t> answer_empty(const Query& q);
std::vector<uint8_t> answer_error(const Query& q, Rcode rc);
// FORMERR for a packet that has at least a header but is no valid query;
// nullopt when there is nothing to answer (shorter than a header, or a
// response: answering those invites loops).
std::optional<std::vector<uint8_t>> answer_formerr(std::span<const uint8_t> packet);

// "4.3.2.1.in-addr.arpa" <-> 1.2.3.4.
std::optional<Ip4> parse_reverse(const Name& n);
Name reverse_name(Ip4 ip);

// The id of a message (0 if shorter than 2 bytes), and setting it.
uint16_t message_id(std::span<const uint8_t> packet);
void set_message_id(std::span<uint8_t> packet, uint16_t id);

}  // namespace berth::netns::dns
