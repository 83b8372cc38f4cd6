// stdin of containers (OpenStdin): piped through attach in order and
// exactly, ended by the client's half-close (StdinOnce), and absent without -i.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/suite.h"

namespace berth::test {
namespace {

class StdinTest : public DaemonSuite {};

TEST_F(StdinTest, PipedDataReachesTheContainer) {
  auto r = d().ctl({"run", "-i", "--rm", "busybox", "cat"}, "data\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "data\n");
}

TEST_F(StdinTest, TenMebibytesArriveExactly) {
  std::string input;
  input.reserve(10 << 20);
  for (size_t i = 0; input.size() < (10u << 20); i++) input += std::to_string(i % 1000003) + "\n";
  input.resize(10 << 20);
  auto r = d().ctl({"run", "-i", "--rm", "busybox", "sh", "-c", "cat >/f; wc -c </f; md5sum </f"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto md5 = run_command({"md5sum"}, input);
  EXPECT_EQ(r.out, "10485760\n" + md5.out) << r.err;
}

TEST_F(StdinTest, WithoutInteractiveStdinIsEmpty) {
  auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c", "cat; echo end"}, "data\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "end\n");
}

TEST_F(StdinTest, ContainerThatIgnoresStdinStillExits) {
  // Input larger than a pipe buffer, never read: the client's writes stall,
  // the container exits anyway, and so does the client.
  std::string input(4 << 20, 'x');
  auto r = d().ctl({"run", "-i", "--rm", "busybox", "sh", "-c", "echo done"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "done\n");
}

}  // namespace
}  // namespace berth::test
