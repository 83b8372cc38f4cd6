// JsonWriter writes what nlohmann's dump() would, byte for byte.
#include "ipc/server/json_writer.h"

#include <functional>

#include <gtest/gtest.h>

#include "ipc/server/json_util.h"

namespace berth::ipc {
namespace {

std::string written(const std::function<void(JsonWriter&)>& f) {
  std::string out;
  JsonWriter w(&out);
  f(w);
  return out;
}

TEST(JsonWriter, NestedValuesMatchDump) {
  OrderedJson want = {{"Id", "abc"},
                      {"Names", {"/one"}},
                      {"Empty", OrderedJson::array()},
                      {"Obj", OrderedJson::object()},
                      {"N", -42},
                      {"U", uint64_t(18446744073709551615ull)},
                      {"T", true},
                      {"F", false},
                      {"Z", nullptr},
                      {"Labels", {{"a", "1"}, {"b", "2"}}},
                      {"Arr", {OrderedJson{{"x", 1}}, OrderedJson{{"y", nullptr}}, 3, "s"}}};
  std::string got = written([](JsonWriter& w) {
    w.begin_object().member("Id", "abc").key("Names").strings({"/one"});
    w.key("Empty").strings({});
    w.key("Obj").begin_object().end_object();
    w.member("N", -42).member("U", uint64_t(18446744073709551615ull)).member("T", true).member("F", false);
    w.key("Z").null();
    w.key("Labels").string_map({{"b", "2"}, {"a", "1"}});
    w.key("Arr").begin_array().begin_object().member("x", 1).end_object();
    w.begin_object().key("y").null().end_object().value(3).value("s").end_array();
    w.end_object();
  });
  EXPECT_EQ(got, want.dump());
  EXPECT_EQ(OrderedJson::parse(got), want);
}

TEST(JsonWriter, EmptyListAsNull) {
  EXPECT_EQ(written([](JsonWriter& w) { w.strings({}, true); }), "null");
  EXPECT_EQ(written([](JsonWriter& w) { w.strings({"a"}, true); }), R"(["a"])");
}

TEST(JsonWriter, StringsAreEscapedAsDumpEscapesThem) {
  std::vector<std::string> cases = {"",
                                    "plain",
                                    "quote \" and backslash \\",
                                    "tab\tnewline\ncr\rbs\bff\f",
                                    std::string("nul\0byte", 8),
                                    "\x01\x1f\x7f",
                                    "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\xB3",  // 2, 3 and 4 byte UTF-8
                                    "/path/with spaces/and'quote"};
  for (const auto& s : cases) {
    EXPECT_EQ(written([&](JsonWriter& w) { w.value(s); }), OrderedJson(s).dump()) << s;
    EXPECT_EQ(written([&](JsonWriter& w) { w.value(s); }), json_quote(s)) << s;
  }
}

TEST(JsonWriter, InvalidUtf8IsReplaced) {
  // Bytes that start no well-formed sequence become U+FFFD each; what
  // follows them is kept.
  for (std::string s : {std::string("a\xFFz"), std::string("\xC3"), std::string("\xE2\x82"),
                        std::string("\xC0\xAF"), std::string("\xED\xA0\x80")}) {
    std::string got = written([&](JsonWriter& w) { w.value(s); });
    auto back = OrderedJson::parse(got);  // well-formed JSON and UTF-8
    EXPECT_NE(back.get<std::string>().find("\xEF\xBF\xBD"), std::string::npos) << got;
  }
  EXPECT_EQ(written([](JsonWriter& w) { w.value(std::string("a\xFFz")); }), "\"a\xEF\xBF\xBDz\"");
}

}  // namespace
}  // namespace berth::ipc
