// Docker's JSON progress lines for pull and push (ipc/server/progress_json.h),
// compared with what dockerd writes.
#include "ipc/server/progress_json.h"

#include <gtest/gtest.h>

namespace berth::ipc {
namespace {

engine::RegistryProgress ev(std::string id, std::string status) {
  engine::RegistryProgress e;
  e.id = std::move(id);
  e.status = std::move(status);
  return e;
}

engine::RegistryProgress bytes(std::string id, std::string status, int64_t current, int64_t total) {
  engine::RegistryProgress e = ev(std::move(id), std::move(status));
  e.has_detail = true;
  e.current = current;
  e.total = total;
  return e;
}

TEST(ProgressJson, MessagesHaveNoProgressDetail) {
  EXPECT_EQ(progress_json(ev("latest", "Pulling from library/busybox")),
            "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n");
  EXPECT_EQ(progress_json(ev("", "Digest: sha256:abc")), "{\"status\":\"Digest: sha256:abc\"}\n");
  EXPECT_EQ(progress_json(ev("", "Status: Downloaded newer image for busybox:latest")),
            "{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\n");
}

TEST(ProgressJson, LayerUpdatesAlwaysHaveProgressDetail) {
  EXPECT_EQ(progress_json(ev("0123456789ab", "Pulling fs layer")),
            "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"0123456789ab\"}\n");
  EXPECT_EQ(progress_json(bytes("0123456789ab", "Downloading", 1, 2)),
            "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"progress\":\"[="
            "========================\\u003e                         ]       1B/2B\",\"id\":\"0123456789ab\"}\n");
  // Go's omitempty: a zero count is left out.
  EXPECT_EQ(progress_json(bytes("0123456789ab", "Downloading", 0, 2)),
            "{\"status\":\"Downloading\",\"progressDetail\":{\"total\":2},\"progress\":\"[\\u003e"
            "                                                  ]       0B/2B\",\"id\":\"0123456789ab\"}\n");
}

TEST(ProgressJson, PushResultIsAnAuxLine) {
  engine::RegistryProgress e = ev("", "v1: digest: sha256:abc size: 400");
  e.aux_tag = "v1";
  e.aux_digest = "sha256:abc";
  e.aux_size = 400;
  EXPECT_EQ(progress_json(e),
            "{\"status\":\"v1: digest: sha256:abc size: 400\"}\n"
            "{\"progressDetail\":{},\"aux\":{\"Tag\":\"v1\",\"Digest\":\"sha256:abc\",\"Size\":400}}\n");
}

TEST(ProgressJson, ErrorLine) {
  EXPECT_EQ(progress_error_json("digest mismatch for layer sha256:x <bad>"),
            "{\"errorDetail\":{\"message\":\"digest mismatch for layer sha256:x \\u003cbad\\u003e\"},"
            "\"error\":\"digest mismatch for layer sha256:x \\u003cbad\\u003e\"}\n");
}

}  // namespace
}  // namespace berth::ipc
