// The config a commit writes: Dockerfile-style `changes` applied to the
// container's config (ipc/server/image_changes.h), then Docker's merge with
// it (fs/image_config.h), as POST /commit does.
#include <gtest/gtest.h>

#include "fs/image_config.h"
#include "ipc/server/image_changes.h"

namespace berth::ipc {
namespace {

fs::ImageConfig container_config() {
  fs::ImageConfig c;
  c.env = {"PATH=/bin", "MODE=dev"};
  c.entrypoint = {"/init"};
  c.cmd = {"serve"};
  c.labels = {{"team", "a"}};
  c.exposed_ports = {"80/tcp"};
  return c;
}

TEST(CommitChanges, ChangesOverTheContainersConfig) {
  fs::ImageConfig cfg = container_config();
  auto r = apply_changes({"env MODE prod", "CMD [\"serve\", \"--fast\"]", "LABEL team=b tier=web", "EXPOSE 443",
                          "USER 1000:1000", "STOPSIGNAL SIGINT"},
                         cfg);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  fs::ImageConfig out = fs::merge_image_config(cfg, container_config());
  EXPECT_EQ(out.env, (std::vector<std::string>{"PATH=/bin", "MODE=prod"}));
  EXPECT_EQ(out.entrypoint, std::vector<std::string>{"/init"});
  EXPECT_EQ(out.cmd, (std::vector<std::string>{"serve", "--fast"}));
  EXPECT_EQ(out.labels, (std::map<std::string, std::string>{{"team", "b"}, {"tier", "web"}}));
  EXPECT_EQ(out.exposed_ports, (std::vector<std::string>{"443/tcp", "80/tcp"}));
  EXPECT_EQ(out.user, "1000:1000");
  EXPECT_EQ(out.stop_signal, "SIGINT");
}

TEST(CommitChanges, BadLinesAreRefused) {
  fs::ImageConfig cfg;
  for (const char* bad : {"FROM busybox", "RUN true", "COPY a b", "CMD [\"unterminated\""}) {
    fs::ImageConfig c;
    auto r = apply_changes({bad}, c);
    if (std::string(bad).starts_with("CMD")) {
      // Not a JSON array: the shell form, as Docker reads it.
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(c.cmd, (std::vector<std::string>{"/bin/sh", "-c", bad + 4}));
      continue;
    }
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(apply_changes({"", "  "}, cfg).has_value());  // blank lines are nothing
}

}  // namespace
}  // namespace berth::ipc
