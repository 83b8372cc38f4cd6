#include "ipc/server/security_view.h"

#include <sys/resource.h>

#include "core/engine/container_security.h"

namespace berth::ipc {

namespace {

using Kind = engine::NamespaceMode::Kind;

constexpr int64_t kDefaultShmBytes = 64 << 20;

std::string mode_text(const engine::NamespaceMode& m, const char* private_name) {
  switch (m.kind) {
    case Kind::kPrivate: return private_name;
    case Kind::kHost: return "host";
    case Kind::kShareable: return "shareable";
    case Kind::kContainer: return "container:" + m.container;
  }
  return private_name;
}

Json list_or_null(const std::vector<std::string>& v) { return v.empty() ? Json(nullptr) : Json(v); }

}  // namespace

void add_security_fields(const engine::SecurityRequest& r, Json& hc) {
  hc["Privileged"] = r.privileged;
  hc["CapAdd"] = list_or_null(r.cap_add);
  hc["CapDrop"] = list_or_null(r.cap_drop);
  if (!hc.contains("SecurityOpt")) hc["SecurityOpt"] = nullptr;
  Json devices = Json::array();
  for (const auto& d : r.devices)
    devices.push_back(
        {{"PathOnHost", d.path_on_host}, {"PathInContainer", d.path_in_container}, {"CgroupPermissions", d.cgroup_permissions}});
  hc["Devices"] = devices;
  std::vector<std::string> rules;
  for (const auto& rule : r.device_cgroup_rules) rules.push_back(cgroups::format_device_rule(rule));
  hc["DeviceCgroupRules"] = list_or_null(rules);
  hc["DeviceRequests"] = nullptr;
  hc["GroupAdd"] = list_or_null(r.group_add);
  if (!r.ulimits.empty()) {
    Json ulimits = Json::array();
    for (const auto& u : r.ulimits) {
      auto limit = [](uint64_t v) { return v == RLIM_INFINITY ? Json(-1) : Json(int64_t(v)); };
      ulimits.push_back({{"Name", std::string(engine::rlimit_name(u.resource))}, {"Hard", limit(u.hard)}, {"Soft", limit(u.soft)}});
    }
    hc["Ulimits"] = ulimits;
  } else if (!hc.contains("Ulimits")) {
    hc["Ulimits"] = nullptr;
  }
  if (!r.sysctls.empty()) {
    Json sysctls = Json::object();
    for (const auto& [k, v] : r.sysctls) sysctls[k] = v;
    hc["Sysctls"] = sysctls;
  }
  bool own_shm = r.ipc.kind == Kind::kPrivate || r.ipc.kind == Kind::kShareable;
  hc["ShmSize"] = r.shm_size > 0 ? r.shm_size : own_shm ? kDefaultShmBytes : 0;
  hc["PidMode"] = mode_text(r.pid, "");
  hc["IpcMode"] = mode_text(r.ipc, "private");
  hc["UTSMode"] = mode_text(r.uts, "");
  if (!hc.contains("UsernsMode")) hc["UsernsMode"] = "";
  hc["MaskedPaths"] = list_or_null(engine::masked_paths(r));
  hc["ReadonlyPaths"] = list_or_null(engine::readonly_paths(r));
  hc["Runtime"] = "berth";
}

}  // namespace berth::ipc
