// The ids of a remapped container's files (berthd --userns-remap): on the
// host its uid/gid N is uid+N/gid+N, for N below size. Tars that leave or
// enter such a container (cp, export, commit) carry the container's ids,
// as Docker's do; size 0 shifts nothing.
#pragma once

#include <cstdint>

namespace berth::fs {

struct IdShift {
  uint32_t uid = 0, gid = 0, size = 0;
  explicit operator bool() const { return size > 0; }
  static constexpr uint32_t kOverflow = 65534;   // what the container sees for an unmapped id
  // Host → container: an id outside the range is the overflow id.
  uint32_t uid_in(uint32_t host) const { return !size ? host : host >= uid && host - uid < size ? host - uid : kOverflow; }
  uint32_t gid_in(uint32_t host) const { return !size ? host : host >= gid && host - gid < size ? host - gid : kOverflow; }
  // Container → host: an id beyond the range becomes the container's
  // overflow id (never a host id outside the range).
  uint32_t uid_out(uint32_t in) const { return !size ? in : uid + (in < size ? in : kOverflow % size); }
  uint32_t gid_out(uint32_t in) const { return !size ? in : gid + (in < size ? in : kOverflow % size); }
};

}  // namespace berth::fs
