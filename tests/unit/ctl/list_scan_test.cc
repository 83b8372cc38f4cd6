// scan_object_list (tools/berthctl/list_scan.h): what `ps` keeps of the
// daemon's list must be what nlohmann's parser gives for those keys, for
// any JSON, and anything that is not an array of objects is refused.
#include "tools/berthctl/list_scan.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace berth::ctl {
namespace {

using nlohmann::json;

const std::set<std::string, std::less<>> kKeep = {"Id", "Names", "Image", "Created", "Ports", "Status", "Odd"};

// The reference: the whole parse, then only the kept keys.
json reference(const std::string& text) {
  json all = json::parse(text);
  json out = json::array();
  for (const json& item : all) {
    json o = json::object();
    for (auto it = item.begin(); it != item.end(); ++it)
      if (kKeep.count(it.key())) o[it.key()] = it.value();
    out.push_back(std::move(o));
  }
  return out;
}

json summary(int i) {
  return {{"Id", std::string(64, char('a' + i % 6))},
          {"Names", {"/name-" + std::to_string(i), "/other/link"}},
          {"Image", "busybox:latest"},
          {"ImageID", "sha256:0123"},
          {"Command", "sh -c \"echo \\\"hi\\\"\"\n\t\u00e9 \u2028 \U0001F600"},
          {"Created", 1765000000 + i},
          {"Ports", i % 2 ? json::array() : json{{{"IP", "0.0.0.0"}, {"PrivatePort", 80}, {"PublicPort", 8080}, {"Type", "tcp"}}}},
          {"Labels", {{"com.example/q", "a \"quoted\" \\ value {not: [json]}"}, {"empty", ""}}},
          {"State", "running"},
          {"Status", "Up 3 minutes"},
          {"SizeRw", -12},
          {"Ratio", 0.25},
          {"Odd", i % 3 == 0 ? json(nullptr) : i % 3 == 1 ? json(true) : json(1.5e300)},
          {"HostConfig", {{"NetworkMode", "none"}, {"Annotations", json::object()}}},
          {"NetworkSettings", {{"Networks", {{"bridge", {{"IPAddress", "10.88.0.2"}, {"Aliases", nullptr}}}}}}},
          {"Mounts", json::array({{{"Type", "bind"}, {"Source", "/a]b}c"}}})}};
}

TEST(ListScan, KeepsWhatTheFullParserGivesForTheKeptKeys) {
  json list = json::array();
  for (int i = 0; i < 50; i++) list.push_back(summary(i));
  for (std::string text : {list.dump(), list.dump(2), list.dump(-1, ' ', true), list.dump(1, '\t', true)}) {
    auto got = scan_object_list(text, kKeep);
    ASSERT_TRUE(got.has_value()) << text.substr(0, 200);
    EXPECT_EQ(*got, reference(text));
  }
}

TEST(ListScan, EmptyListsAndObjects) {
  EXPECT_EQ(scan_object_list("[]", kKeep), json::array());
  EXPECT_EQ(scan_object_list(" \n[ ]\t", kKeep), json::array());
  EXPECT_EQ(scan_object_list("[{},{}]", kKeep), json::parse("[{},{}]"));
  EXPECT_EQ(scan_object_list(R"([{"Id":"x","Id":"y"}])", kKeep), json::parse(R"([{"Id":"y"}])"));
}

TEST(ListScan, RefusesWhatIsNotAnArrayOfObjects) {
  for (const char* bad : {"", "[", "[{", "{}", "[1]", "[{}", "[{},]", "[{}] x", R"([{"Id":}])", R"([{"Id" "x"}])",
                          R"([{"Id":"x",}])", R"([{"Id":"x"])", R"([{"Id":"\x"}])", R"([{"Id":"\udc00"}])",
                          R"([{"Id":"\ud800x"}])", R"([{"Id":"\u12"}])", "[{\"Id\":\"a\nb\"}]", R"([{"Id":"abc)",
                          R"([{"Other":"abc)", R"([{"Other":[1,2}])", R"([{"Ports":[1,}]}])", R"([{"Created":1x}])"}) {
    EXPECT_FALSE(scan_object_list(bad, kKeep).has_value()) << bad;
  }
}

// Random documents: every kind of value, nested, under kept and other
// keys, with strings of any byte nlohmann writes (escapes, UTF-8).
json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 2 ? 5 : 7);
  switch (kind(rng)) {
    case 0: return nullptr;
    case 1: return bool(rng() & 1);
    case 2: return int64_t(rng()) - int64_t(1u << 31);
    case 3: return double(rng()) / 7.0;
    case 4: return uint64_t(rng()) << 33;
    case 5: {
      std::string s;
      static const char* pieces[] = {"a", "\"", "\\", "/", "\n", "\x01", "\x1f", " ", "\xc3\xa9", "\xe2\x80\xa8",
                                     "\xf0\x9f\x98\x80", "{", "]", ","};
      for (int n = rng() % 12; n > 0; n--) s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
      return s;
    }
    case 6: {
      json a = json::array();
      for (int n = rng() % 4; n > 0; n--) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int n = rng() % 4; n > 0; n--) o["k" + std::to_string(rng() % 10)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

TEST(ListScan, RandomDocumentsAgreeWithTheFullParser) {
  std::mt19937 rng(18);
  static const char* keys[] = {"Id", "Names", "Ports", "Created", "Odd", "Labels", "Mounts", "x"};
  for (int round = 0; round < 300; round++) {
    json list = json::array();
    for (int n = rng() % 6; n > 0; n--) {
      json o = json::object();
      for (int k = rng() % 8; k > 0; k--) o[keys[rng() % 8]] = random_value(rng, 0);
      list.push_back(std::move(o));
    }
    std::string text = round % 2 ? list.dump() : list.dump(-1, ' ', true);
    auto got = scan_object_list(text, kKeep);
    ASSERT_TRUE(got.has_value()) << text;
    ASSERT_EQ(*got, reference(text)) << text;
  }
}

}  // namespace
}  // namespace berth::ctl
