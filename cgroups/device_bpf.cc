#include "cgroups/device_bpf.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace berth::cgroups {

namespace {

// Registers: r1 the context; r2 access_type; r3 the device type; r4 the
// requested access; r5 major; r6 minor; r0 the verdict.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6;

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_u32(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn and32_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh32_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// A block's checks, each jumping past the block on a mismatch (offsets
// are filled in once the block's length is known).
struct Check {
  uint8_t op;   // BPF_JNE or BPF_JSET
  uint8_t reg;
  int32_t imm;
};

std::vector<Check> checks_of(const DeviceRule& r) {
  std::vector<Check> c;
  if (r.type == 'c') c.push_back({BPF_JNE, R3, BPF_DEVCG_DEV_CHAR});
  if (r.type == 'b') c.push_back({BPF_JNE, R3, BPF_DEVCG_DEV_BLOCK});
  int32_t allowed = (r.access & kDeviceMknod ? BPF_DEVCG_ACC_MKNOD : 0) |
                    (r.access & kDeviceRead ? BPF_DEVCG_ACC_READ : 0) |
                    (r.access & kDeviceWrite ? BPF_DEVCG_ACC_WRITE : 0);
  int32_t denied = ~allowed & (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE);
  if (denied) c.push_back({BPF_JSET, R4, denied});  // any requested access the rule lacks
  if (r.major >= 0) c.push_back({BPF_JNE, R5, int32_t(r.major)});
  if (r.minor >= 0) c.push_back({BPF_JNE, R6, int32_t(r.minor)});
  return c;
}

long bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof *attr); }

}  // namespace

std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> p = {
      load_u32(R2, R1, offsetof(bpf_cgroup_dev_ctx, access_type)),
      mov_reg(R3, R2),
      and32_imm(R3, 0xffff),
      mov_reg(R4, R2),
      rsh32_imm(R4, 16),
      load_u32(R5, R1, offsetof(bpf_cgroup_dev_ctx, major)),
      load_u32(R6, R1, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  for (const DeviceRule& r : rules) {
    std::vector<Check> checks = checks_of(r);
    // Each check jumps over the rest of the block: the checks after it
    // and the two verdict instructions.
    for (size_t i = 0; i < checks.size(); i++) {
      auto skip = int16_t(checks.size() - i - 1 + 2);
      p.push_back(insn(BPF_JMP | checks[i].op | BPF_K, checks[i].reg, 0, skip, checks[i].imm));
    }
    p.push_back(mov_imm(R0, 1));
    p.push_back(exit_insn());
  }
  p.push_back(mov_imm(R0, 0));
  p.push_back(exit_insn());
  return p;
}

Result<unique_fd> load_device_program(const std::vector<bpf_insn>& insns) {
  static const char kLicense[] = "GPL";  // no GPL-only helper is called; any license loads
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = uint64_t(uintptr_t(insns.data()));
  attr.insn_cnt = uint32_t(insns.size());
  attr.license = uint64_t(uintptr_t(kLicense));
  int fd = int(bpf(BPF_PROG_LOAD, &attr));
  if (fd >= 0) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // bpf(2) fds are close-on-exec already; say so anyway
    return unique_fd(fd);
  }
  int err = errno;
  // Again with the verifier's log, for the message.
  std::string log(16384, '\0');
  attr.log_buf = uint64_t(uintptr_t(log.data()));
  attr.log_size = uint32_t(log.size());
  attr.log_level = 1;
  fd = int(bpf(BPF_PROG_LOAD, &attr));
  if (fd >= 0) return unique_fd(fd);
  log.resize(std::strlen(log.c_str()));
  while (!log.empty() && log.back() == '\n') log.pop_back();
  Error e = Error::sys(err, "load the device cgroup program ({} instructions)", insns.size());
  if (log.empty()) return e;
  return Error(e.code(), e.message() + "; verifier log: " + log, err);
}

Result<void> attach_device_program(int cgroup, int prog) {
  bpf_attr attr{};
  attr.target_fd = uint32_t(cgroup);
  attr.attach_bpf_fd = uint32_t(prog);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) < 0) return Error::sys(errno, "attach the device cgroup program");
  return ok();
}

Result<void> detach_other_device_programs(int cgroup, int keep) {
  bpf_prog_info info{};
  bpf_attr attr{};
  attr.info.bpf_fd = uint32_t(keep);
  attr.info.info_len = sizeof info;
  attr.info.info = uint64_t(uintptr_t(&info));
  if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) return Error::sys(errno, "read the device cgroup program's id");
  uint32_t ids[64];
  attr = {};
  attr.query.target_fd = uint32_t(cgroup);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = uint64_t(uintptr_t(ids));
  attr.query.prog_cnt = 64;
  if (bpf(BPF_PROG_QUERY, &attr) < 0) return Error::sys(errno, "list the device cgroup programs");
  for (uint32_t i = 0; i < attr.query.prog_cnt && i < 64; i++) {
    if (ids[i] == info.id) continue;
    bpf_attr get{};
    get.prog_id = ids[i];
    unique_fd old(int(bpf(BPF_PROG_GET_FD_BY_ID, &get)));
    if (!old) {
      if (errno == ENOENT) continue;  // detached meanwhile
      return Error::sys(errno, "open device cgroup program {}", ids[i]);
    }
    bpf_attr det{};
    det.target_fd = uint32_t(cgroup);
    det.attach_bpf_fd = uint32_t(old.get());
    det.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &det) < 0 && errno != ENOENT)
      return Error::sys(errno, "detach device cgroup program {}", ids[i]);
  }
  return ok();
}

}  // namespace berth::cgroups
