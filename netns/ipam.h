// Ipam: the IPv4 address allocator of one network.
//
// One bit per address of the subnet (a /16 is 8 KiB), so allocating,
// reserving and releasing are word scans, never per-address searches: 10,000
// allocations in a /16 take well under a millisecond. Never hands out the
// network address, the broadcast address or the gateway, nor an address
// already in use. Dynamic allocation is sequential with wrap-around inside the
// ip-range, as Docker's: the search starts after the last address handed
// out, so an address just released is not reused at once (a late packet or
// a stale neighbour entry for it then reaches nobody rather than the next
// container).
//
// Threads: an Ipam is a plain value; one thread at a time (the engine keeps
// it on the reactor thread). Every method but load() and save() is pure
// memory work and never blocks. load() and save() BLOCK on the disk (save()
// fsyncs): run them on the job pool. The engine's usual pattern is
// allocate()/release() on the reactor, then encode() there and write the
// string with write_file_atomic() on the job pool, once per batch.
//
// File format (encode/decode; one file per network, written atomically:
// temp file, fsync, rename, fsync of the directory):
//
//   berth-ipam 1
//   subnet 10.88.0.0/16
//   range 10.88.0.0/16
//   gateway 10.88.0.1
//   next 10.88.0.7
//   alloc 10.88.0.2-10.88.0.5
//   alloc 10.88.0.9
//   end
//
// "alloc" lines list allocated addresses (single or first-last, ascending,
// never the reserved ones); "next" is where the next dynamic search starts;
// "end" marks a complete file. Anything else is kCorrupt naming the file and
// line; a missing file is kNotFound.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "netns/subnet.h"

namespace berth::netns {

class Ipam {
 public:
  // A fresh allocator: nothing allocated, the search starts at the range's
  // first host.
  explicit Ipam(const NetworkAddressing& a);

  Ipam(const Ipam&) = default;
  Ipam& operator=(const Ipam&) = default;
  Ipam(Ipam&&) = default;
  Ipam& operator=(Ipam&&) = default;

  // The next free address of the ip-range after the last one handed out,
  // wrapping around. Errors: kConflict "no available addresses on this pool"
  // (Docker's ErrNoAvailableIPs) when the range is full.
  Result<Ip4> allocate();
  // A specific address (--ip). Errors, all naming the address:
  //   kInvalidArgument "no configured subnet or ip-range contain the IP
  //     address 10.9.0.5" (outside the subnet; inside the subnet but
  //     outside the ip-range is fine, as in Docker),
  //   kInvalidArgument "address 10.88.0.1 is reserved (gateway)" (also
  //     network, broadcast),
  //   kConflict "Address already in use: 10.88.0.9".
  Result<void> reserve(Ip4 ip);
  // Frees an address. Returns false (and changes nothing) if it was not
  // allocated, so a repeated release is harmless.
  bool release(Ip4 ip);
  bool is_allocated(Ip4 ip) const;
  bool is_reserved(Ip4 ip) const;  // network, broadcast or gateway

  // After a crash: the addresses the engine knows to be in use (from its
  // container state) become exactly the allocated set. Addresses outside
  // the subnet or reserved are skipped and returned in `skipped` if given.
  // Returns the addresses that were released.
  std::vector<Ip4> reconcile(std::span<const Ip4> in_use, std::vector<Ip4>* skipped = nullptr);

  size_t allocated_count() const { return count_; }
  // Addresses dynamic allocation can hand out (the ip-range minus reserved).
  size_t range_capacity() const;
  std::vector<Ip4> allocated() const;
  const NetworkAddressing& addressing() const { return addr_; }

  std::string encode() const;
  // `what` names the source in errors (the file path).
  static Result<Ipam> decode(std::string_view text, std::string_view what);
  // Blocking (see above). save() writes `path` atomically and durably.
  static Result<Ipam> load(const std::string& path);
  Result<void> save(const std::string& path) const;

 private:
  size_t index(Ip4 ip) const { return ip.value - addr_.subnet.network.value; }
  bool test(size_t i) const { return (bits_[i >> 6] >> (i & 63)) & 1; }
  void set(size_t i) { bits_[i >> 6] |= uint64_t(1) << (i & 63); }
  void clear(size_t i) { bits_[i >> 6] &= ~(uint64_t(1) << (i & 63)); }
  // First clear bit in [from, to] (inclusive), or npos.
  size_t find_clear(size_t from, size_t to) const;

  NetworkAddressing addr_;
  std::vector<uint64_t> bits_;  // allocated and reserved addresses
  size_t count_ = 0;            // allocated, reserved excluded
  size_t next_ = 0;             // index where the next dynamic search starts
};

// "<dir>/<network_id>.ipam": where a network's allocator lives.
std::string ipam_path(std::string_view dir, std::string_view network_id);

}  // namespace berth::netns
