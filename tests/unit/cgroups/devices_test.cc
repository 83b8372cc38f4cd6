// Device rules: parsing, the v1 allow lines and the v1 writer (against a
// fixture tree whose devices.allow is a FIFO, so every write is seen), and
// the v2 BPF device program, run here by a small eBPF interpreter for the
// instructions the generator emits. Pure, no root (loading the program into
// the kernel is the integration test's).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "cgroups/cgroups.h"
#include "cgroups/device_bpf.h"
#include "cgroups/devices.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

using test::CgroupTree;
using Strings = std::vector<std::string>;

TEST(DeviceRule, ParsesDockerSyntax) {
  auto r = parse_device_rule("c 1:3 rwm");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (DeviceRule{.type = 'c', .major = 1, .minor = 3, .access = kDeviceAll}));
  r = parse_device_rule("b *:* m");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (DeviceRule{.type = 'b', .major = -1, .minor = -1, .access = kDeviceMknod}));
  r = parse_device_rule("c 136:* rw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->minor, -1);
  EXPECT_EQ(r->access, kDeviceRead | kDeviceWrite);
  for (const char* bad : {"", "c", "c 1:3", "x 1:3 rwm", "c 1:3 rwx", "c 1:3 rr", "c 1 rwm", "c -1:3 rwm",
                          "c 1:3  rwm", "c a:3 rwm", "c 1:3 rwm extra"}) {
    auto e = parse_device_rule(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().message(), std::string("invalid device cgroup format '") + bad + "'");
  }
}

TEST(DeviceRule, V1LinesAndDefaults) {
  EXPECT_EQ(v1_allow_lines({{.type = 'c', .major = 1, .minor = 3}, {.type = 'b', .major = 8, .minor = -1,
                                                                        .access = kDeviceRead}}),
            (Strings{"c 1:3 rwm", "b 8:* r"}));
  EXPECT_EQ(v1_allow_lines({{.type = 'a'}}), Strings{"a"});
  // v1 reads "a" as everything whatever follows: a narrower 'a' rule is written per type.
  EXPECT_EQ(v1_allow_lines({{.type = 'a', .major = -1, .minor = -1, .access = kDeviceMknod}}),
            (Strings{"c *:* m", "b *:* m"}));
  const auto& d = default_device_rules();
  EXPECT_EQ(v1_allow_lines(d), (Strings{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
                                        "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}));
  EXPECT_FALSE(allows_all(d));
  EXPECT_TRUE(allows_all(container_device_rules(true, {})));
  auto with = container_device_rules(false, {{.type = 'c', .major = 4, .minor = 64}});
  EXPECT_EQ(with.size(), d.size() + 1);
}

// The instructions device_program() emits, run against one access.
int run_device_program(const std::vector<bpf_insn>& prog, uint32_t access_type, uint32_t major, uint32_t minor) {
  uint64_t r[11] = {};
  bpf_cgroup_dev_ctx ctx{access_type, major, minor};
  auto* base = reinterpret_cast<const uint8_t*>(&ctx);
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const bpf_insn& i = prog[pc];
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM: {
        EXPECT_EQ(i.src_reg, 1) << "loads only from the context";
        uint32_t v;
        std::memcpy(&v, base + i.off, 4);
        r[i.dst_reg] = v;
        break;
      }
      case BPF_ALU64 | BPF_MOV | BPF_X: r[i.dst_reg] = r[i.src_reg]; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = uint64_t(int64_t(i.imm)); break;
      case BPF_ALU | BPF_AND | BPF_K: r[i.dst_reg] = uint32_t(r[i.dst_reg]) & uint32_t(i.imm); break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i.dst_reg] = uint32_t(r[i.dst_reg]) >> i.imm; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (r[i.dst_reg] != uint64_t(int64_t(i.imm))) pc += size_t(i.off);
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        if (r[i.dst_reg] & uint64_t(int64_t(i.imm))) pc += size_t(i.off);
        break;
      case BPF_JMP | BPF_EXIT: return int(r[0]);
      default: ADD_FAILURE() << "unexpected instruction " << int(i.code); return -1;
    }
  }
  ADD_FAILURE() << "ran off the end";
  return -1;
}

constexpr uint32_t kChar = BPF_DEVCG_DEV_CHAR, kBlock = BPF_DEVCG_DEV_BLOCK;
uint32_t access(uint32_t type, uint32_t acc) { return acc << 16 | type; }
constexpr uint32_t kR = BPF_DEVCG_ACC_READ, kW = BPF_DEVCG_ACC_WRITE, kM = BPF_DEVCG_ACC_MKNOD;

TEST(DeviceProgram, DefaultRulesAllowTheUsualNodesAndMknodOnly) {
  auto prog = device_program(default_device_rules());
  auto allowed = [&](uint32_t type, uint32_t acc, uint32_t ma, uint32_t mi) {
    return run_device_program(prog, access(type, acc), ma, mi);
  };
  EXPECT_EQ(allowed(kChar, kR | kW, 1, 3), 1);     // /dev/null
  EXPECT_EQ(allowed(kChar, kR, 1, 9), 1);          // /dev/urandom
  EXPECT_EQ(allowed(kChar, kR | kW, 136, 5), 1);   // /dev/pts/5
  EXPECT_EQ(allowed(kChar, kR | kW, 5, 2), 1);     // ptmx
  EXPECT_EQ(allowed(kChar, kR | kW, 10, 200), 1);  // tun
  EXPECT_EQ(allowed(kChar, kM, 7, 0), 1);          // mknod of anything...
  EXPECT_EQ(allowed(kBlock, kM, 8, 0), 1);
  EXPECT_EQ(allowed(kChar, kR, 7, 0), 0);          // ...but no access to it (the issue's /dev/vcs)
  EXPECT_EQ(allowed(kChar, kW, 7, 0), 0);
  EXPECT_EQ(allowed(kChar, kR, 10, 183), 0);       // /dev/hwrng
  EXPECT_EQ(allowed(kChar, kR | kW, 10, 237), 0);  // /dev/loop-control
  EXPECT_EQ(allowed(kBlock, kR, 8, 0), 0);         // /dev/sda
  EXPECT_EQ(allowed(kBlock, kR, 1, 3), 0);         // a block 1:3 is not /dev/null
  EXPECT_EQ(allowed(kChar, kR, 1, 4), 0);          // /dev/port
  EXPECT_EQ(allowed(kChar, kR | kM, 7, 0), 0);     // part of the access outside the rule
}

TEST(DeviceProgram, UserRulesAndPrivileged) {
  auto prog = device_program(container_device_rules(
      false, {{.type = 'b', .major = 8, .minor = -1, .access = kDeviceRead}, {.type = 'a', .major = 4, .minor = 64}}));
  EXPECT_EQ(run_device_program(prog, access(kBlock, kR), 8, 3), 1);
  EXPECT_EQ(run_device_program(prog, access(kBlock, kW), 8, 3), 0);
  EXPECT_EQ(run_device_program(prog, access(kChar, kR | kW), 4, 64), 1);   // 'a': either type
  EXPECT_EQ(run_device_program(prog, access(kBlock, kR | kW), 4, 64), 1);
  EXPECT_EQ(run_device_program(prog, access(kChar, kR), 4, 65), 0);
  auto all = device_program(container_device_rules(true, {}));
  EXPECT_EQ(run_device_program(all, access(kBlock, kR | kW | kM), 8, 0), 1);
  EXPECT_EQ(run_device_program(all, access(kChar, kR), 7, 0), 1);
  auto none = device_program({});
  EXPECT_EQ(run_device_program(none, access(kChar, kR), 1, 3), 0);
}

// v1: "a" into devices.deny, then each allow line, in order. devices.allow
// is a FIFO the test reads, so every write shows (a file keeps only the last).
TEST(DevicesV1, DenyAllThenEachAllowLine) {
  CgroupTree t;
  t.mkdir("devices/berth/c1");
  t.put("devices/berth/c1/devices.deny", "");
  ASSERT_EQ(::mkfifo(t.path("devices/berth/c1/devices.allow").c_str(), 0600), 0);
  int reader = ::open(t.path("devices/berth/c1/devices.allow").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  auto driver = make_v1({{t.path("devices"), "/", {"devices"}}});
  auto cg = driver->open("berth", "c1");
  ASSERT_TRUE(cg) << cg.error().message();
  auto r = (*cg)->set_devices(container_device_rules(false, {{.type = 'c', .major = 4, .minor = 64}}));
  ASSERT_TRUE(r) << r.error().message();
  char buf[4096];
  ssize_t n = ::read(reader, buf, sizeof buf);
  ::close(reader);
  ASSERT_GT(n, 0);
  std::string want;
  for (const auto& l : v1_allow_lines(container_device_rules(false, {{.type = 'c', .major = 4, .minor = 64}})))
    want += l;
  EXPECT_EQ(std::string(buf, size_t(n)), want);
  EXPECT_EQ(t.get("devices/berth/c1/devices.deny"), "a");
}

TEST(DevicesV1, PrivilegedAllowsAllAndAMissingControllerIsAnError) {
  CgroupTree t;
  t.mkdir("devices/berth/c1");
  t.put("devices/berth/c1/devices.allow", "");
  auto driver = make_v1({{t.path("devices"), "/", {"devices"}}});
  auto cg = driver->open("berth", "c1");
  ASSERT_TRUE(cg);
  ASSERT_TRUE((*cg)->set_devices(container_device_rules(true, {})));
  EXPECT_EQ(t.get("devices/berth/c1/devices.allow"), "a");

  t.mkdir("pids/berth/c2");
  auto no_devices = make_v1({{t.path("pids"), "/", {"pids"}}});
  auto cg2 = no_devices->open("berth", "c2");
  ASSERT_TRUE(cg2);
  auto r = (*cg2)->set_devices(default_device_rules());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotSupported);
  EXPECT_EQ(r.error().message(),
            "set the device allowlist of cgroup /berth/c2: the devices controller is not mounted");
}

}  // namespace
}  // namespace berth::cgroups
