// The devices cgroup rules of a container's security options (devices.h).
#include "core/engine/devices.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(DeviceRules, DefaultsDevicesAndUserRules) {
  runtime::Security s;
  s.devices = {{.path = "/dev/net/tun", .type = 'c', .major = 10, .minor = 200, .permissions = "rw"}};
  auto rules = device_cgroup_rules(s, {{.type = 'b', .major = 8, .minor = -1, .access = cgroups::kDeviceRead}});
  const auto& dflt = cgroups::default_device_rules();
  ASSERT_EQ(rules.size(), dflt.size() + 2);
  EXPECT_EQ(rules[dflt.size()], (cgroups::DeviceRule{.type = 'c', .major = 10, .minor = 200,
                                                      .access = cgroups::kDeviceRead | cgroups::kDeviceWrite}));
  EXPECT_EQ(rules.back().type, 'b');
  s.privileged = true;
  EXPECT_TRUE(cgroups::allows_all(device_cgroup_rules(s, {})));
}

}  // namespace
}  // namespace berth::engine
