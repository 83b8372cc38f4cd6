#include <csignal>

#include <gtest/gtest.h>

#include "core/base/strings.h"
#include "ipc/server/create_request.h"
#include "ipc/server/image_changes.h"
#include "ipc/server/router.h"
#include "ipc/server/signals.h"
#include "ipc/server/views.h"

namespace berth::ipc {
namespace {

TEST(Router, MatchesPatterns) {
  Params p;
  EXPECT_TRUE(match_route("/containers/{}/json", "/containers/abc/json", &p));
  EXPECT_EQ(p, Params{"abc"});
  EXPECT_FALSE(match_route("/containers/{}/json", "/containers//json", &p));
  EXPECT_FALSE(match_route("/containers/{}/json", "/containers/abc/json/x", &p));
  EXPECT_FALSE(match_route("/containers/json", "/containers/abc", &p));
  EXPECT_TRUE(match_route("/images/{*}/json", "/images/docker.io/library/busybox:latest/json", &p));
  EXPECT_EQ(p, Params{"docker.io/library/busybox:latest"});
  EXPECT_TRUE(match_route("/images/{*}/json", "/images/busybox/json", &p));
  EXPECT_FALSE(match_route("/images/{*}/json", "/images/json", &p));
  EXPECT_TRUE(match_route("/_ping", "/_ping", &p));
}

TEST(CreateRequest, ParsesDockerCliBody) {
  auto s = parse_create_request(
      R"({"Hostname":"h","User":"1000","Env":["A=1"],"Cmd":["echo","hi"],"Image":"busybox","WorkingDir":"/w",
          "Entrypoint":null,"Labels":{"x":"y"},"AttachStdout":true,"HostConfig":{"AutoRemove":true,"NetworkMode":"none",
          "MemorySwappiness":-1},"NetworkingConfig":{"EndpointsConfig":{}}})",
      "n1");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->name, "n1");
  EXPECT_EQ(s->image, "busybox");
  EXPECT_EQ(s->cmd, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_TRUE(s->cmd_set);
  EXPECT_FALSE(s->entrypoint_set);
  EXPECT_EQ(s->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(s->working_dir, "/w");
  EXPECT_TRUE(s->auto_remove);
  EXPECT_EQ(s->network_mode, "none");
  EXPECT_EQ(s->labels.at("x"), "y");
  EXPECT_NE(s->host_config_json.find("MemorySwappiness"), std::string::npos);
  EXPECT_EQ(s->config_json.find("HostConfig"), std::string::npos);
}

TEST(CreateRequest, RejectsBadInput) {
  EXPECT_EQ(parse_create_request("{", "").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_create_request("[]", "").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_create_request(R"({"Cmd":["x"]})", "").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_create_request(R"({"Image":"b","Cmd":[1]})", "").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_create_request(R"({"Image":"b","Env":"A=1"})", "").has_value(), true);  // StrSlice accepts a string
  EXPECT_EQ(parse_create_request(R"({"Image":"b","WorkingDir":"rel"})", "").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(parse_create_request(R"({"Image":"b","Tty":"yes"})", "").error().code(), Code::kInvalidArgument);
  auto cmd_string = parse_create_request(R"({"Image":"b","Cmd":"true"})", "");
  ASSERT_TRUE(cmd_string.has_value());
  EXPECT_EQ(cmd_string->cmd, std::vector<std::string>{"true"});
}

TEST(ImageChanges, AppliesDockerfileInstructions) {
  fs::ImageConfig cfg;
  cfg.env = {"A=old"};
  auto r = apply_changes({R"(CMD ["sh","-c","echo hi"])", "ENTRYPOINT /bin/run", "ENV A=new B=2", "WORKDIR /app",
                          "USER nobody", "LABEL k=v", "EXPOSE 80 53/udp"},
                         cfg);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(cfg.cmd, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(cfg.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "/bin/run"}));
  EXPECT_EQ(cfg.env, (std::vector<std::string>{"A=new", "B=2"}));
  EXPECT_EQ(cfg.working_dir, "/app");
  EXPECT_EQ(cfg.user, "nobody");
  EXPECT_EQ(cfg.labels.at("k"), "v");
  EXPECT_EQ(cfg.exposed_ports, (std::vector<std::string>{"80/tcp", "53/udp"}));
  EXPECT_FALSE(apply_changes({"RUN rm -rf /"}, cfg).has_value());
  ASSERT_TRUE(apply_changes({"VOLUME /data /cache", R"(VOLUME ["/logs", "/data"])"}, cfg).has_value());
  EXPECT_EQ(cfg.volumes, (std::vector<std::string>{"/cache", "/data", "/logs"}));
  auto relative = apply_changes({"VOLUME data"}, cfg);
  ASSERT_FALSE(relative.has_value());
  EXPECT_EQ(relative.error().message(), "VOLUME data: the path must be absolute");
}

TEST(Signals, NamesAndNumbers) {
  EXPECT_EQ(*parse_signal("KILL"), SIGKILL);
  EXPECT_EQ(*parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("10"), 10);
  EXPECT_FALSE(parse_signal("NOPE").has_value());
  EXPECT_FALSE(parse_signal("0").has_value());
  EXPECT_FALSE(parse_signal("99").has_value());
}

TEST(Views, StatusText) {
  engine::Container c;
  int64_t now = 1000 * 1000000000LL;
  EXPECT_EQ(container_status_text(c, now), "Created");
  c.state.status = engine::Status::kRunning;
  c.state.started_ns = now - 5 * 1000000000LL;
  EXPECT_EQ(container_status_text(c, now), "Up 5 seconds");
  c.state.status = engine::Status::kExited;
  c.state.exit_code = 137;
  c.state.finished_ns = now - 120 * 1000000000LL;
  EXPECT_EQ(container_status_text(c, now), "Exited (137) 2 minutes ago");
}

}  // namespace
}  // namespace berth::ipc
