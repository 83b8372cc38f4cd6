// berthctl's pure parts: Docker's size and CPU parsers, the human units of
// `stats`, the stats row arithmetic and the stream splitter.
#include <climits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tools/berthctl/stats.h"
#include "tools/berthctl/units.h"

namespace berth::ctl {
namespace {

int64_t ram(std::string_view s) {
  Result<int64_t> r = ram_in_bytes(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << r.error().message();
  return r.value_or(-12345);
}

std::string ram_error(std::string_view s) {
  Result<int64_t> r = ram_in_bytes(s);
  EXPECT_FALSE(r.has_value()) << s << " parsed as " << *r;
  return r ? "" : r.error().message();
}

TEST(RamInBytes, UnitsArePowersOf1024AnyCase) {
  EXPECT_EQ(ram("1024"), 1024);
  EXPECT_EQ(ram("10b"), 10);
  EXPECT_EQ(ram("10B"), 10);
  EXPECT_EQ(ram("512k"), 512 << 10);
  EXPECT_EQ(ram("32m"), 32 << 20);
  EXPECT_EQ(ram("32M"), 32 << 20);
  EXPECT_EQ(ram("1g"), int64_t(1) << 30);
  EXPECT_EQ(ram("1t"), int64_t(1) << 40);
  EXPECT_EQ(ram("1p"), int64_t(1) << 50);
}

TEST(RamInBytes, OptionalBOrIbAfterTheUnit) {
  EXPECT_EQ(ram("32mb"), 32 << 20);
  EXPECT_EQ(ram("32MB"), 32 << 20);
  EXPECT_EQ(ram("32MiB"), 32 << 20);
  EXPECT_EQ(ram("32MIB"), 32 << 20);
}

TEST(RamInBytes, FractionsAreTruncatedAndOneSpaceIsAllowed) {
  EXPECT_EQ(ram("1.5g"), 1610612736);
  EXPECT_EQ(ram("1.5k"), 1536);
  EXPECT_EQ(ram(".5k"), 512);
  EXPECT_EQ(ram("5."), 5);
  EXPECT_EQ(ram("0.5"), 0);
  EXPECT_EQ(ram("1e3"), 1000);
  EXPECT_EQ(ram("+5"), 5);
  EXPECT_EQ(ram("32 m"), 32 << 20);
  EXPECT_EQ(ram("32 "), 32);
}

TEST(RamInBytes, ErrorsUseGoUnitsWording) {
  EXPECT_EQ(ram_error("32q"), "invalid suffix: 'q'");
  EXPECT_EQ(ram_error("32mi"), "invalid suffix: 'mi'");
  EXPECT_EQ(ram_error("32bb"), "invalid suffix: 'bb'");
  EXPECT_EQ(ram_error("1e"), "invalid suffix: 'e'");
  EXPECT_EQ(ram_error("32KIBX"), "invalid suffix: 'KIBX'");  // too long: not lowercased
  EXPECT_EQ(ram_error(""), "invalid size: ''");
  EXPECT_EQ(ram_error("m"), "invalid size: 'm'");
  EXPECT_EQ(ram_error("-1"), "invalid size: '-1'");
  EXPECT_EQ(ram_error("9000p"), "invalid size: '9000p'");  // beyond int64
  EXPECT_EQ(ram_error("1.2.3"), "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax");
  EXPECT_EQ(ram_error(" 5"), "strconv.ParseFloat: parsing \" 5\": invalid syntax");
  EXPECT_EQ(ram_error("."), "strconv.ParseFloat: parsing \".\": invalid syntax");
  EXPECT_EQ(ram_error("1e400"), "strconv.ParseFloat: parsing \"1e400\": value out of range");
}

TEST(MemSwapBytes, MinusOneIsUnlimited) {
  EXPECT_EQ(mem_swap_bytes("-1").value(), -1);
  EXPECT_EQ(mem_swap_bytes("64m").value(), 64 << 20);
  EXPECT_FALSE(mem_swap_bytes("-2").has_value());
}

int64_t nanos(std::string_view s) {
  Result<int64_t> r = nano_cpus(s);
  EXPECT_TRUE(r.has_value()) << s << ": " << r.error().message();
  return r.value_or(-12345);
}

std::string nanos_error(std::string_view s) {
  Result<int64_t> r = nano_cpus(s);
  EXPECT_FALSE(r.has_value()) << s << " parsed as " << *r;
  return r ? "" : r.error().message();
}

TEST(NanoCpus, DecimalsFractionsAndExponents) {
  EXPECT_EQ(nanos("0.5"), 500000000);
  EXPECT_EQ(nanos("1.5"), 1500000000);
  EXPECT_EQ(nanos("2"), 2000000000);
  EXPECT_EQ(nanos(".5"), 500000000);
  EXPECT_EQ(nanos("1."), 1000000000);
  EXPECT_EQ(nanos("+0.25"), 250000000);
  EXPECT_EQ(nanos("0.000000001"), 1);
  EXPECT_EQ(nanos("000.1000000000000"), 100000000);  // trailing zeros are not precision
  EXPECT_EQ(nanos("3/2"), 1500000000);
  EXPECT_EQ(nanos("1e-3"), 1000000);
  EXPECT_EQ(nanos("2E1"), 20000000000);
  EXPECT_EQ(nanos("0"), 0);
  EXPECT_EQ(nanos("0e-99999999"), 0);
  EXPECT_EQ(nanos("-1"), -1000000000);  // the daemon rejects it, as dockerd does
  EXPECT_EQ(nanos("9223372036"), 9223372036000000000);
  EXPECT_EQ(nanos("-9223372036.854775808"), INT64_MIN);
}

TEST(NanoCpus, ErrorsUseTheDockerCliWording) {
  EXPECT_EQ(nanos_error("abc"), "failed to parse abc as a rational number");
  EXPECT_EQ(nanos_error(""), "failed to parse  as a rational number");
  EXPECT_EQ(nanos_error("."), "failed to parse . as a rational number");
  EXPECT_EQ(nanos_error("1.2.3"), "failed to parse 1.2.3 as a rational number");
  EXPECT_EQ(nanos_error("1e"), "failed to parse 1e as a rational number");
  EXPECT_EQ(nanos_error("1/0"), "failed to parse 1/0 as a rational number");
  EXPECT_EQ(nanos_error("0.0000000001"), "value is too precise");
  EXPECT_EQ(nanos_error("1/3"), "value is too precise");
  EXPECT_EQ(nanos_error("1e-99999999"), "value is too precise");
  EXPECT_EQ(nanos_error("1e30"), "value is out of range");
  EXPECT_EQ(nanos_error("9223372037"), "value is out of range");
}

TEST(HumanSizes, DecimalThreeDigitsAndBinaryFourDigits) {
  EXPECT_EQ(human_size(0), "0B");
  EXPECT_EQ(human_size(999), "999B");
  EXPECT_EQ(human_size(1000), "1kB");
  EXPECT_EQ(human_size(1500), "1.5kB");
  EXPECT_EQ(human_size(4096), "4.1kB");
  EXPECT_EQ(human_size(8192), "8.19kB");
  EXPECT_EQ(human_size(4260000), "4.26MB");
  EXPECT_EQ(human_size(999999), "1e+03kB");  // Go's %.3g does the same
  EXPECT_EQ(bytes_size(0), "0B");
  EXPECT_EQ(bytes_size(1000), "1000B");
  EXPECT_EQ(bytes_size(1500), "1.465KiB");
  EXPECT_EQ(bytes_size(1572864), "1.5MiB");
  EXPECT_EQ(bytes_size(33554432), "32MiB");
  EXPECT_EQ(bytes_size(67108864), "64MiB");
  EXPECT_EQ(format_percent(12.3456), "12.35%");
  EXPECT_EQ(format_percent(0), "0.00%");
}

TEST(Stats, RowLikeTheDockerCli) {
  auto v = nlohmann::json::parse(R"({
    "id": "0123456789abcdef0123", "name": "/web",
    "cpu_stats": {"cpu_usage": {"total_usage": 300000000, "percpu_usage": [1, 2]}, "system_cpu_usage": 20000000000},
    "precpu_stats": {"cpu_usage": {"total_usage": 200000000}, "system_cpu_usage": 18000000000},
    "memory_stats": {"usage": 2097152, "limit": 33554432, "stats": {"inactive_file": 524288}},
    "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}, "eth1": {"rx_bytes": 500, "tx_bytes": 0}},
    "blkio_stats": {"io_service_bytes_recursive": [
      {"op": "Read", "value": 4096}, {"op": "write", "value": 8192}, {"op": "Total", "value": 1},
      {"op": "", "value": 5}, {"op": "read", "value": 4096}]},
    "pids_stats": {"current": 3}})");
  StatsEntry e = stats_entry(v, "web");
  // 1e8 / 2e9 × 2 CPUs (len(percpu_usage), no online_cpus) × 100 = 10%.
  EXPECT_EQ(stats_row(e, /*trunc=*/true),
            (std::vector<std::string>{"0123456789ab", "web", "10.00%", "1.5MiB / 32MiB", "4.69%",
                                      "1.5kB / 2kB", "8.19kB / 8.19kB", "3"}));
  EXPECT_EQ(stats_row(e, /*trunc=*/false)[0], "0123456789abcdef0123");
  EXPECT_EQ(stats_header()[3], "MEM USAGE / LIMIT");
}

TEST(Stats, CgroupV1InactiveFileAndEdgeCases) {
  // total_inactive_file ≥ usage is ignored; inactive_file is then used.
  auto v = nlohmann::json::parse(R"({
    "memory_stats": {"usage": 1000, "limit": 0, "stats": {"total_inactive_file": 2000, "inactive_file": 100}},
    "cpu_stats": {"online_cpus": 4, "cpu_usage": {"total_usage": 10}, "system_cpu_usage": 100},
    "precpu_stats": {}})");
  StatsEntry e = stats_entry(v, "x");
  EXPECT_EQ(e.memory, 900);
  EXPECT_EQ(e.memory_percent, 0);  // no limit: 0, not a division by zero
  EXPECT_DOUBLE_EQ(e.cpu_percent, 40.0);
  // A stopped container's zeroed object (name "/n", nothing else).
  StatsEntry z = stats_entry(nlohmann::json::parse(R"({"id": "abc", "name": "/n"})"), "n");
  EXPECT_EQ(stats_row(z, true),
            (std::vector<std::string>{"abc", "n", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"}));
  // Negative deltas (a restarted counter) give 0%, as docker.
  auto back = nlohmann::json::parse(R"({"cpu_stats": {"online_cpus": 1, "cpu_usage": {"total_usage": 5},
    "system_cpu_usage": 100}, "precpu_stats": {"cpu_usage": {"total_usage": 9}, "system_cpu_usage": 50}})");
  EXPECT_EQ(stats_entry(back, "x").cpu_percent, 0);
  // Invalid entries (an error) show dashes; with no daemon name, "--".
  StatsEntry bad;
  bad.container = "web";
  bad.invalid = true;
  EXPECT_EQ(stats_row(bad, true),
            (std::vector<std::string>{"web", "--", "--", "-- / --", "--", "--", "--", "--"}));
}

TEST(JsonObjectSplitter, SplitsStreamsAcrossChunks) {
  JsonObjectSplitter sp;
  std::string v;
  sp.feed("{\"a\":\"}{\\\"\"}\n{\"b\":[1,{}]");  // braces and an escaped quote inside a string
  ASSERT_TRUE(sp.next(&v));
  EXPECT_EQ(v, "{\"a\":\"}{\\\"\"}");
  EXPECT_FALSE(sp.next(&v));  // the second object is incomplete
  sp.feed("}{\"c\":1}  garbage\n{\"d\"");
  ASSERT_TRUE(sp.next(&v));
  EXPECT_EQ(v, "{\"b\":[1,{}]}");
  ASSERT_TRUE(sp.next(&v));
  EXPECT_EQ(v, "{\"c\":1}");  // no newline between objects
  ASSERT_TRUE(sp.next(&v));
  EXPECT_EQ(v, "garbage");  // handed out so that the caller's parse fails
  EXPECT_FALSE(sp.next(&v));
  EXPECT_EQ(sp.rest(), "{\"d\"");
}

}  // namespace
}  // namespace berth::ctl
