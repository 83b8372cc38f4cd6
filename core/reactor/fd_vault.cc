#include "core/reactor/fd_vault.h"

#include <sys/eventfd.h>
#include <sys/resource.h>

#include <algorithm>

namespace berth::reactor {

namespace {

// Linux 6.8's opcode; Debian 12's headers predate it.
constexpr uint8_t kOpFixedFdInstall = 54;

}  // namespace

FdVault::~FdVault() {
  for (auto& r : rings_)
    if (r->ready) io_uring_queue_exit(&r->ring);
}

Result<FdVault::Ring*> FdVault::ring_with_room(unsigned* index) {
  for (unsigned i = 0; i < rings_.size(); i++)
    if (!rings_[i]->free.empty()) {
      *index = i;
      return rings_[i].get();
    }
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  unsigned slots = unsigned(std::min<rlim_t>(kSlotsPerRing, lim.rlim_cur));
  auto r = std::make_unique<Ring>();
  if (int rc = io_uring_queue_init(4, &r->ring, 0); rc < 0) return Error::sys(-rc, "fd vault: io_uring_setup");
  r->ready = true;
  if (int rc = io_uring_register_files_sparse(&r->ring, slots); rc < 0)
    return Error::sys(-rc, "fd vault: register a table of {} files", slots);
  r->free.reserve(slots);
  for (unsigned s = slots; s-- > 0;) r->free.push_back(s);
  rings_.push_back(std::move(r));
  *index = unsigned(rings_.size() - 1);
  return rings_.back().get();
}

Result<uint32_t> FdVault::stash(int f) {
  if (f < 0) return Error::invalid("fd vault: no descriptor to stash");
  unsigned i = 0;
  Ring* r = BERTH_TRY(ring_with_room(&i));
  uint32_t slot = r->free.back();
  if (int rc = io_uring_register_files_update(&r->ring, slot, &f, 1); rc < 0)
    return Error::sys(-rc, "fd vault: register descriptor {}", f);
  r->free.pop_back();
  held_++;
  return uint32_t(i * kSlotsPerRing + slot);
}

bool FdVault::stash_all(const int* fds, size_t n, uint32_t* keys) {
  for (size_t i = 0; i < n; i++) {
    auto key = stash(fds[i]);
    if (!key) {
      while (i > 0) drop(keys[--i]);
      return false;
    }
    keys[i] = *key;
  }
  return true;
}

Result<unique_fd> FdVault::open(uint32_t key) {
  unsigned i = key / kSlotsPerRing, slot = key % kSlotsPerRing;
  if (i >= rings_.size()) return Error::invalid("fd vault: no key {}", key);
  io_uring& ring = rings_[i]->ring;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (!sqe) return Error::make(Code::kSystem, "fd vault: no submission slot");
  io_uring_prep_rw(kOpFixedFdInstall, sqe, int(slot), nullptr, 0, 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  sqe->rw_flags = 0;  // install_fd_flags: close-on-exec (the default)
  int rc = io_uring_submit_and_wait(&ring, 1);
  if (rc < 0) return Error::sys(-rc, "fd vault: install key {}", key);
  io_uring_cqe* cqe = nullptr;
  rc = io_uring_peek_cqe(&ring, &cqe);
  if (rc < 0 || !cqe) return Error::sys(rc < 0 ? -rc : EAGAIN, "fd vault: install key {}", key);
  int res = cqe->res;
  io_uring_cqe_seen(&ring, cqe);
  if (res < 0) return Error::sys(-res, "fd vault: install key {}", key);
  return unique_fd(res);
}

Result<unique_fd> FdVault::take(uint32_t key) {
  auto fd = open(key);
  drop(key);
  return fd;
}

void FdVault::drop(uint32_t key) {
  unsigned i = key / kSlotsPerRing, slot = key % kSlotsPerRing;
  if (key == kNone || i >= rings_.size()) return;
  int none = -1;
  if (io_uring_register_files_update(&rings_[i]->ring, slot, &none, 1) < 0) return;
  rings_[i]->free.push_back(slot);
  held_--;
}

bool FdVault::available() {
  if (probed_ == 0) {
    probed_ = -1;
    unique_fd probe(::eventfd(0, EFD_CLOEXEC));
    if (probe) {
      auto key = stash(probe.get());
      if (key) {
        if (auto back = open(*key); back) probed_ = 1;
        drop(*key);
      }
    }
  }
  return probed_ == 1;
}

}  // namespace berth::reactor
