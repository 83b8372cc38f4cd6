#include <gtest/gtest.h>

#include "cgroups/cgroups.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

using test::kMiB;

// The message of validate(r, cpus), or "" when it passes.
std::string check(const Resources& r, int cpus = 2) {
  auto v = validate(r, cpus);
  if (v) return "";
  EXPECT_EQ(v.error().code(), Code::kInvalidArgument);
  return v.error().message();
}

TEST(Validate, EmptyAndTypicalPass) {
  EXPECT_EQ(check({}), "");
  Resources r;
  r.memory = 64 * kMiB;
  r.memory_swap = 128 * kMiB;
  r.memory_reservation = 32 * kMiB;
  r.nano_cpus = 1500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.pids_limit = 100;
  r.blkio_weight = 500;
  EXPECT_EQ(check(r), "");
  r = {};
  r.memory = 0;  // Docker's zero is "unset"
  r.memory_swap = -1;
  r.blkio_weight = 0;
  r.cpu_period = 0;
  EXPECT_EQ(check(r), "");
}

TEST(Validate, Memory) {
  Resources r;
  r.memory = 6 * kMiB - 1;
  EXPECT_EQ(check(r), "Minimum memory limit allowed is 6MB");
  r.memory = -5;  // Docker checks Memory != 0
  EXPECT_EQ(check(r), "Minimum memory limit allowed is 6MB");
  r.memory = 6 * kMiB;
  EXPECT_EQ(check(r), "");
  r.memory = 64 * kMiB;
  r.memory_swap = 32 * kMiB;
  EXPECT_EQ(check(r), "Minimum memoryswap limit should be larger than memory limit, see usage");
  r = {};
  r.memory_swap = 64 * kMiB;
  EXPECT_EQ(check(r), "You should always set the Memory limit when using Memoryswap limit, see usage");
  r = {};
  r.memory_reservation = 5 * kMiB;
  EXPECT_EQ(check(r), "Minimum memory reservation allowed is 6MB");
  r.memory_reservation = 128 * kMiB;
  r.memory = 64 * kMiB;
  EXPECT_EQ(check(r), "Minimum memory limit can not be less than memory reservation limit, see usage");
}

TEST(Validate, Cpu) {
  Resources r;
  r.nano_cpus = 500000000;
  r.cpu_period = 100000;
  EXPECT_EQ(check(r), "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  r.cpu_period.reset();
  r.cpu_quota = 50000;
  EXPECT_EQ(check(r), "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  r = {};
  r.nano_cpus = 3000000000;
  EXPECT_EQ(check(r, 2), "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  r.nano_cpus = -1;
  EXPECT_EQ(check(r, 4), "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available");
  r.nano_cpus = 2000000000;
  EXPECT_EQ(check(r, 2), "");
  r = {};
  r.cpu_period = 999;
  EXPECT_EQ(check(r), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  r.cpu_period = 1000001;
  EXPECT_EQ(check(r), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  r.cpu_period = 1000;
  r.cpu_quota = 999;
  EXPECT_EQ(check(r), "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  r.cpu_quota = -1;  // unlimited
  EXPECT_EQ(check(r), "");
}

TEST(Validate, Cpuset) {
  Resources r;
  r.cpuset_cpus = "0-a";
  EXPECT_EQ(check(r), "Invalid value 0-a for cpuset cpus: invalid format: 0-a");
  for (const char* bad : {"1-0", "1,", ",1", "-1", "1-", "x", "1 "}) {
    r.cpuset_cpus = bad;
    EXPECT_NE(check(r).find("for cpuset cpus"), std::string::npos) << bad;
  }
  r.cpuset_cpus = "0,3";
  EXPECT_EQ(check(r, 2), "Requested CPUs are not available - requested 0,3, available: 0-1");
  r.cpuset_cpus = "1";
  EXPECT_EQ(check(r, 1), "Requested CPUs are not available - requested 1, available: 0");
  r.cpuset_cpus = "0-1,1";
  EXPECT_EQ(check(r, 2), "");
  r.cpuset_mems = "0-";
  EXPECT_EQ(check(r, 2), "Invalid value 0- for cpuset mems: invalid format: 0-");
  r.cpuset_mems = "0-3";  // mems are only parsed: nodes are not known here
  EXPECT_EQ(check(r, 2), "");
}

TEST(Validate, BlkioWeight) {
  Resources r;
  r.blkio_weight = 9;
  EXPECT_EQ(check(r), "Range of blkio weight is from 10 to 1000");
  r.blkio_weight = 1001;
  EXPECT_EQ(check(r), "Range of blkio weight is from 10 to 1000");
  r.blkio_weight = 10;
  EXPECT_EQ(check(r), "");
}

TEST(Resources, Empty) {
  Resources r;
  EXPECT_TRUE(r.empty());
  r.pids_limit = 0;  // set, even to "unlimited"
  EXPECT_FALSE(r.empty());
  r = {};
  r.cpuset_mems = "";
  EXPECT_FALSE(r.empty());
}

}  // namespace
}  // namespace berth::cgroups
