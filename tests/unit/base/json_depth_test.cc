#include "core/base/json_depth.h"

#include <string>

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(JsonDepth, CountsArraysAndObjects) {
  EXPECT_TRUE(json_depth_ok("{}", 1));
  EXPECT_FALSE(json_depth_ok("{\"a\":[]}", 1));
  EXPECT_TRUE(json_depth_ok("{\"a\":[]}", 2));
  EXPECT_TRUE(json_depth_ok("[1,[2],[3],{\"x\":4}]", 2));   // siblings do not add up
  EXPECT_TRUE(json_depth_ok("", 0));
  EXPECT_TRUE(json_depth_ok("\"plain\"", 0));
}

TEST(JsonDepth, IgnoresBracketsInStrings) {
  EXPECT_TRUE(json_depth_ok("{\"a\":\"[[[[{{{{\"}", 1));
  EXPECT_TRUE(json_depth_ok(R"({"a":"\"[[[["})", 1));     // an escaped quote does not end the string
  EXPECT_FALSE(json_depth_ok(R"({"a":"\\",[[]]})", 2));   // an escaped backslash does
}

TEST(JsonDepth, TheIssuesBody) {
  // A create body with 100,000 nested '[' in a field berth does not read.
  std::string body = "{\"Image\":\"busybox\",\"X\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(json_depth_ok(body));
  EXPECT_TRUE(json_depth_ok(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_FALSE(json_depth_ok(std::string(kMaxJsonDepth + 1, '[')));
}

}  // namespace
}  // namespace berth
