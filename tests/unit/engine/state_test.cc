#include <gtest/gtest.h>

#include "core/engine/engine.h"
#include "core/engine/state_store.h"

namespace berth::engine {
namespace {

TEST(StateStore, RoundTrip) {
  Container c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.created_ns = 123;
  c.image_id = "sha256:" + std::string(64, 'b');
  c.image_ref = "busybox";
  c.path_args = {"sh", "-c", "exit 3"};
  c.spec.env = {"A=1"};
  c.spec.labels = {{"k", "v"}};
  c.spec.auto_remove = true;
  c.spec.host_config_json = R"({"Memory":1})";
  c.state.status = Status::kExited;
  c.state.exit_code = 3;
  c.state.error = "boom";
  c.state.finished_ns = 456;
  c.state.pid = 4242;
  c.state.start_ticks = 987654321;
  c.state.cgroup_base = {1, 2, 30000, 4};
  auto back = decode_container(encode_container(c));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  const Container& b = **back;
  EXPECT_EQ(b.id, c.id);
  EXPECT_EQ(b.name, "web");
  EXPECT_EQ(b.path_args, c.path_args);
  EXPECT_EQ(b.spec.env, c.spec.env);
  EXPECT_EQ(b.spec.labels, c.spec.labels);
  EXPECT_TRUE(b.spec.auto_remove);
  EXPECT_EQ(b.spec.host_config_json, c.spec.host_config_json);
  EXPECT_EQ(b.state.status, Status::kExited);
  EXPECT_EQ(b.state.exit_code, 3);
  EXPECT_EQ(b.state.error, "boom");
  EXPECT_EQ(b.state.finished_ns, 456);
  EXPECT_EQ(b.state.pid, 4242);
  EXPECT_EQ(b.state.start_ticks, 987654321u);
  EXPECT_EQ(b.state.cgroup_base, (cgroups::Cgroup::CounterBase{1, 2, 30000, 4}));
  // A cgroup made new has no base, and its state says nothing of one.
  c.state.cgroup_base = {};
  std::string plain = encode_container(c);
  EXPECT_EQ(plain.find("cgroup_base"), std::string::npos);
  back = decode_container(plain);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ((*back)->state.cgroup_base, cgroups::Cgroup::CounterBase{});
}

TEST(StateStore, CorruptIsAnError) {
  EXPECT_FALSE(decode_container("{nope").has_value());
  EXPECT_FALSE(decode_container("{}").has_value());
  EXPECT_EQ(decode_container("[1]").error().code(), Code::kCorrupt);
}

TEST(Names, DockerRules) {
  EXPECT_TRUE(valid_name("web"));
  EXPECT_TRUE(valid_name("a.b-c_d9"));
  EXPECT_TRUE(valid_name("a"));
  EXPECT_FALSE(valid_name("-web"));
  EXPECT_FALSE(valid_name("we/b"));
  EXPECT_FALSE(valid_name("we b"));
  EXPECT_FALSE(valid_name(""));
  for (uint64_t seed : {0ull, 1ull, 12345ull, ~0ull}) EXPECT_TRUE(valid_name(generate_name(seed))) << generate_name(seed);
  EXPECT_NE(generate_name(1), generate_name(2));
}

}  // namespace
}  // namespace berth::engine
