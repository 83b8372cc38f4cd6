// FdVault: open files kept without a descriptor each. The vault's files
// live in io_uring registered-file tables (rings made only for that, never
// submitted to except for the install below), which are not the process's
// descriptor table: 10,000 idle containers' pipes and logs held this way
// use a handful of descriptors (one per ring), not 40,000, under a hard
// RLIMIT_NOFILE of 20,000.
//
// stash() registers a descriptor's file in a free slot
// (IORING_REGISTER_FILES_UPDATE); the caller then closes its descriptor
// (on an error it keeps it, and the file stays where it was). open() installs a new descriptor for
// it again (IORING_OP_FIXED_FD_INSTALL, Linux 6.8, O_CLOEXEC), leaving it
// in the vault; drop() empties the slot. A ring takes at most
// kSlotsPerRing files (and never more than RLIMIT_NOFILE, the kernel's bound
// on a table); more rings are made as slots run out.
//
// Costs: one descriptor and about kSlotsPerRing * 8 bytes of kernel memory
// per ring; stash, open and drop are one syscall each, none blocks.
//
// available() probes the kernel once (a stash and an open of an eventfd):
// on a kernel without the install op, callers keep their descriptors.
//
// Thread: one thread (the reactor's, or the keeper's); not thread-safe.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::reactor {

class FdVault {
 public:
  static constexpr unsigned kSlotsPerRing = 4096;
  static constexpr uint32_t kNone = UINT32_MAX;

  FdVault() = default;
  ~FdVault();
  FdVault(const FdVault&) = delete;
  FdVault& operator=(const FdVault&) = delete;

  // Whether this kernel can install a vaulted file as a descriptor again.
  bool available();
  // The file of `fd` into the vault (the descriptor stays the caller's,
  // to close). The key names it.
  Result<uint32_t> stash(int fd);
  // All of `n` descriptors or none: their keys in keys[0..n); false (and
  // nothing stashed) if any could not be.
  bool stash_all(const int* fds, size_t n, uint32_t* keys);
  // A new descriptor (close-on-exec) for the file under `key`.
  Result<unique_fd> open(uint32_t key);
  // Forgets the file under `key` (the vault's reference goes).
  void drop(uint32_t key);
  // open() then drop(): the file leaves the vault as a descriptor (dropped
  // even when the install fails).
  Result<unique_fd> take(uint32_t key);
  size_t held() const { return held_; }
  size_t rings() const { return rings_.size(); }

 private:
  struct Ring {
    io_uring ring{};
    bool ready = false;
    std::vector<uint32_t> free;   // free slots, next on top
  };
  Result<Ring*> ring_with_room(unsigned* index);

  std::vector<std::unique_ptr<Ring>> rings_;
  size_t held_ = 0;
  int probed_ = 0;   // 0: not yet, 1: works, -1: does not
};

}  // namespace berth::reactor
