#include "core/engine/security_state.h"

#include "core/engine/seccomp_json.h"
#include "core/runtime/security.h"

namespace berth::engine {

namespace {

using nlohmann::json;
using Kind = NamespaceMode::Kind;

const char* const kSeccompNames[] = {"default", "unconfined", "profile"};
const char* const kNamespaceKinds[] = {"private", "host", "container", "shareable"};

template <class E, size_t N>
Result<E> enum_named(const json& j, const char* const (&names)[N], const char* what) {
  std::string text = j.get<std::string>();
  for (size_t i = 0; i < N; i++)
    if (text == names[i]) return E(i);
  return Error::make(Code::kCorrupt, "unknown {} \"{}\"", what, text);
}

json namespace_json(const NamespaceMode& m) { return {{"mode", kNamespaceKinds[size_t(m.kind)]}, {"container", m.container}}; }

Result<NamespaceMode> namespace_from(const json& j) {
  NamespaceMode m;
  m.kind = BERTH_TRY(enum_named<Kind>(j.at("mode"), kNamespaceKinds, "namespace mode"));
  m.container = j.at("container").get<std::string>();
  return m;
}

Result<SecurityRequest> decode(const json& j) {
  SecurityRequest r;
  r.privileged = j.at("privileged").get<bool>();
  r.cap_add = j.at("cap_add").get<std::vector<std::string>>();
  r.cap_drop = j.at("cap_drop").get<std::vector<std::string>>();
  r.capabilities = j.at("capabilities").get<uint64_t>();
  r.no_new_privileges = j.at("no_new_privileges").get<bool>();
  r.seccomp = BERTH_TRY(enum_named<runtime::Security::Seccomp>(j.at("seccomp"), kSeccompNames, "seccomp mode"));
  if (r.seccomp == runtime::Security::Seccomp::kProfile) {
    r.seccomp_profile_json = j.at("seccomp_profile").get<std::string>();
    auto p = parse_seccomp_profile(r.seccomp_profile_json);
    if (!p) return Error::make(Code::kCorrupt, "stored seccomp profile: {}", p.error().message());
    r.seccomp_profile = std::move(*p);
  }
  r.unmasked_paths = j.at("unmasked_paths").get<bool>();
  r.host_userns = j.value("host_userns", false);
  for (const json& d : j.at("devices"))
    r.devices.push_back({d.at("host").get<std::string>(), d.at("container").get<std::string>(),
                         d.at("permissions").get<std::string>()});
  for (const json& rule : j.at("device_cgroup_rules")) {
    auto parsed = cgroups::parse_device_rule(rule.get<std::string>());
    if (!parsed) return Error::make(Code::kCorrupt, "stored device rule: {}", parsed.error().message());
    r.device_cgroup_rules.push_back(*parsed);
  }
  r.group_add = j.at("group_add").get<std::vector<std::string>>();
  for (const json& u : j.at("ulimits")) {
    auto resource = runtime::rlimit_resource(u.at("name").get<std::string>());
    if (!resource) return Error::make(Code::kCorrupt, "stored ulimit {}: unknown", u.at("name").dump());
    r.ulimits.push_back({*resource, u.at("soft").get<uint64_t>(), u.at("hard").get<uint64_t>()});
  }
  r.sysctls = j.at("sysctls").get<std::vector<std::pair<std::string, std::string>>>();
  r.shm_size = j.at("shm_size").get<int64_t>();
  r.pid = BERTH_TRY(namespace_from(j.at("pid")));
  r.ipc = BERTH_TRY(namespace_from(j.at("ipc")));
  r.uts = BERTH_TRY(namespace_from(j.at("uts")));
  return r;
}

}  // namespace

json security_to_state(const SecurityRequest& r) {
  json devices = json::array(), rules = json::array(), ulimits = json::array();
  for (const DeviceMapping& d : r.devices)
    devices.push_back({{"host", d.path_on_host}, {"container", d.path_in_container}, {"permissions", d.cgroup_permissions}});
  for (const cgroups::DeviceRule& rule : r.device_cgroup_rules) rules.push_back(cgroups::format_device_rule(rule));
  for (const runtime::Rlimit& u : r.ulimits)
    ulimits.push_back({{"name", runtime::rlimit_name(u.resource)}, {"soft", u.soft}, {"hard", u.hard}});
  json j = {{"privileged", r.privileged},
            {"cap_add", r.cap_add},
            {"cap_drop", r.cap_drop},
            {"capabilities", r.capabilities},
            {"no_new_privileges", r.no_new_privileges},
            {"seccomp", kSeccompNames[size_t(r.seccomp)]},
            {"unmasked_paths", r.unmasked_paths},
            {"host_userns", r.host_userns},
            {"devices", devices},
            {"device_cgroup_rules", rules},
            {"group_add", r.group_add},
            {"ulimits", ulimits},
            {"sysctls", r.sysctls},
            {"shm_size", r.shm_size},
            {"pid", namespace_json(r.pid)},
            {"ipc", namespace_json(r.ipc)},
            {"uts", namespace_json(r.uts)}};
  if (r.seccomp == runtime::Security::Seccomp::kProfile) j["seccomp_profile"] = r.seccomp_profile_json;
  return j;
}

Result<SecurityRequest> security_from_state(const json& j) {
  if (!j.is_object()) return Error::make(Code::kCorrupt, "container state: security is not an object");
  try {
    return decode(j);
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "container state: security: {}", e.what());
  }
}

}  // namespace berth::engine
