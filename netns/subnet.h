// IPv4 addresses, subnets and MAC addresses for berth's networks: parsing,
// validation with Docker's messages (moby api/types/network/ipam.go) and the
// small arithmetic the rest of netns/ needs.
//
// Threads: pure functions on values; any thread; never block.
//
// Addresses are host byte order in an Ip4 (10.88.0.1 is 0x0a580001) so that
// ranges and bitmaps are plain integer arithmetic; to_in_addr() converts for
// sockets and netlink.
#pragma once

#include <netinet/in.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::netns {

struct Ip4 {
  uint32_t value = 0;  // host byte order
  auto operator<=>(const Ip4&) const = default;
};

// Strict dotted quad as Go's netip.ParseAddr: four decimal octets, no
// leading zeros ("010.0.0.1" is refused), nothing around them.
std::optional<Ip4> parse_ip4(std::string_view s);
std::string to_string(Ip4 ip);
in_addr to_in_addr(Ip4 ip);
Ip4 from_in_addr(in_addr a);
// 127.0.0.0/8.
bool is_loopback(Ip4 ip);

struct Subnet {
  Ip4 network;         // masked: no host bits set
  uint8_t prefix = 0;  // 0..32

  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix); }
  uint64_t size() const { return uint64_t(1) << (32 - prefix); }
  Ip4 broadcast() const { return Ip4{network.value | ~mask()}; }
  bool contains(Ip4 ip) const { return (ip.value & mask()) == network.value; }
  bool overlaps(const Subnet& o) const;
  bool operator==(const Subnet&) const = default;
};
std::string to_string(const Subnet& s);  // "10.88.0.0/16"

// An address with a prefix length, not necessarily masked: "10.88.0.1/16".
struct Cidr {
  Ip4 addr;
  uint8_t prefix = 0;
  Subnet subnet() const;
};
std::optional<Cidr> parse_cidr(std::string_view s);
std::string to_string(const Cidr& c);

// A network's subnet as given to `network create --subnet` or `--bip`:
//   "invalid subnet 10.0.0.0: invalid CIDR block notation"
//   "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"
// berth's limits (a bridge network needs a gateway and one more address, and
// the allocator keeps one bit per address): "invalid subnet 10.0.0.0/31:
// smaller than /30 has no room for a gateway and a container",
// "invalid subnet 10.0.0.0/7: larger than /8 is not supported", and IPv6
// subnets are kNotSupported ("invalid subnet fd00::/64: IPv6 networks are
// not supported"). All kInvalidArgument unless said otherwise.
Result<Subnet> parse_subnet(std::string_view s);

// The IPv4 part of a network's IPAM config (Docker's IPAMConfig), validated
// as Docker does, every problem listed:
//   "invalid network config:\ninvalid gateway 10.1.0.1: parent subnet
//    10.0.0.0/24 doesn't contain this address"
// An empty gateway defaults to the subnet's first host; an empty ip_range to
// the whole subnet. The gateway may not be the network or broadcast address.
struct NetworkAddressing {
  Subnet subnet;
  Ip4 gateway;
  Subnet ip_range;  // where dynamic allocation happens; == subnet if not given
};
Result<NetworkAddressing> parse_addressing(std::string_view subnet, std::string_view ip_range = {},
                                           std::string_view gateway = {});

// Docker's container MAC: 02:42 then the four bytes of the IPv4 address
// (locally administered, unicast), so the same address gives the same MAC.
using Mac = std::array<uint8_t, 6>;
Mac mac_for(Ip4 ip);
std::string to_string(const Mac& m);  // "02:42:0a:58:00:02"

}  // namespace berth::netns
