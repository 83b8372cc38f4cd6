#include "core/engine/security_options.h"

#include <sys/resource.h>

#include <algorithm>

#include "core/base/strings.h"
#include "core/runtime/capabilities.h"
#include "core/runtime/security.h"
#include "core/engine/json_fields.h"
#include "core/engine/seccomp_json.h"

namespace berth::engine {

namespace {

using Kind = NamespaceMode::Kind;

Result<std::vector<std::string>> string_list(const Json& hc, const char* field) {
  bool set;
  return str_slice(hc, field, &set);
}

Result<bool> parse_bool(std::string_view v, const std::string& opt) {
  // Go's strconv.ParseBool.
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return Error::invalid("invalid --security-opt 2: \"{}\"", opt);
}

Result<void> security_opt(const std::string& opt, SecurityRequest& r) {
  if (opt == "no-new-privileges") {
    r.no_new_privileges = true;
    return ok();
  }
  if (opt == "disable" || starts_with(opt, "label") || starts_with(opt, "apparmor"))
    return Error::invalid("berth does not support AppArmor or SELinux (this kernel enforces neither): --security-opt {}",
                          opt);
  size_t sep = opt.find('=');
  if (sep == std::string::npos) sep = opt.find(':');  // the old "key:value" form
  if (sep == std::string::npos) return Error::invalid("invalid --security-opt 1: \"{}\"", opt);
  std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
  if (key == "no-new-privileges") {
    r.no_new_privileges = BERTH_TRY(parse_bool(value, opt));
  } else if (key == "seccomp") {
    if (value == "unconfined") {
      r.seccomp = runtime::Security::Seccomp::kUnconfined;
    } else if (value == "builtin" || value.empty()) {
      r.seccomp = runtime::Security::Seccomp::kDefault;
    } else {
      r.seccomp_profile = BERTH_TRY(parse_seccomp_profile(value));
      r.seccomp_profile_json = value;
      r.seccomp = runtime::Security::Seccomp::kProfile;
    }
  } else if (key == "systempaths") {
    if (value != "unconfined") return Error::invalid("invalid --security-opt 2: \"{}\"", opt);
    r.unmasked_paths = true;
  } else if (key == "writable-cgroups") {
    return Error::invalid("--security-opt writable-cgroups is not supported by berth");
  } else {
    return Error::invalid("invalid --security-opt 2: \"{}\"", opt);
  }
  return ok();
}

// MaskedPaths/ReadonlyPaths: absent or null are Docker's defaults; the CLI
// sends [] for systempaths=unconfined. Other lists are not supported.
Result<void> system_paths(const Json& hc, SecurityRequest& r) {
  for (const char* field : {"MaskedPaths", "ReadonlyPaths"}) {
    if (!hc.contains(field) || hc[field].is_null()) continue;
    if (!hc[field].is_array()) return Error::invalid("invalid {}: expected an array of strings", field);
    if (!hc[field].empty())
      return Error::invalid("HostConfig.{} with paths of its own is not supported by berth: only the default, or none "
                            "(--security-opt systempaths=unconfined)",
                            field);
    r.unmasked_paths = true;
  }
  return ok();
}

Result<void> capabilities(const Json& hc, SecurityRequest& r) {
  for (auto [field, out] : {std::pair{"CapAdd", &r.cap_add}, std::pair{"CapDrop", &r.cap_drop}})
    for (const auto& c : BERTH_TRY(string_list(hc, field))) out->push_back(BERTH_TRY(runtime::normalize_capability(c)));
  if (!BERTH_TRY(string_list(hc, "Capabilities")).empty())
    return Error::invalid("HostConfig.Capabilities is not supported by berth: use CapAdd and CapDrop");
  r.capabilities = BERTH_TRY(runtime::container_capabilities(r.cap_add, r.cap_drop, r.privileged));
  return ok();
}

Result<void> devices(const Json& hc, SecurityRequest& r) {
  if (hc.contains("Devices") && !hc["Devices"].is_null()) {
    if (!hc["Devices"].is_array()) return Error::invalid("invalid Devices: expected an array");
    for (const Json& d : hc["Devices"]) {
      if (!d.is_object()) return Error::invalid("invalid Devices: expected an array of objects");
      DeviceMapping m;
      m.path_on_host = BERTH_TRY(str_field(d, "PathOnHost"));
      m.path_in_container = BERTH_TRY(str_field(d, "PathInContainer"));
      m.cgroup_permissions = BERTH_TRY(str_field(d, "CgroupPermissions"));
      if (m.path_on_host.empty()) return Error::invalid("invalid device specification: no PathOnHost");
      if (m.path_in_container.empty()) m.path_in_container = m.path_on_host;
      if (m.cgroup_permissions.empty()) m.cgroup_permissions = "rwm";
      uint8_t access;
      if (!cgroups::parse_device_access(m.cgroup_permissions, &access))
        return Error::invalid("invalid device mode: {}", m.cgroup_permissions);
      if (m.path_in_container[0] != '/') return Error::invalid("{} is not an absolute path", m.path_in_container);
      r.devices.push_back(std::move(m));
    }
  }
  for (const auto& rule : BERTH_TRY(string_list(hc, "DeviceCgroupRules")))
    r.device_cgroup_rules.push_back(BERTH_TRY(cgroups::parse_device_rule(rule)));
  if (hc.contains("DeviceRequests") && !hc["DeviceRequests"].is_null() &&
      !(hc["DeviceRequests"].is_array() && hc["DeviceRequests"].empty()))
    return Error::invalid("HostConfig.DeviceRequests (--gpus) is not supported by berth");
  return ok();
}

Result<int64_t> limit_value(const Json& u, const char* field) {
  if (!u.contains(field) || !u[field].is_number_integer())
    return Error::invalid("invalid Ulimits: {} must be an integer", field);
  return u[field].get<int64_t>();
}

Result<void> ulimits(const Json& hc, SecurityRequest& r) {
  if (!hc.contains("Ulimits") || hc["Ulimits"].is_null()) return ok();
  if (!hc["Ulimits"].is_array()) return Error::invalid("invalid Ulimits: expected an array");
  for (const Json& u : hc["Ulimits"]) {
    if (!u.is_object()) return Error::invalid("invalid Ulimits: expected an array of objects");
    std::string name = BERTH_TRY(str_field(u, "Name"));
    auto resource = runtime::rlimit_resource(name);
    if (!resource) return Error::invalid("invalid ulimit type: {}", name);
    int64_t soft = BERTH_TRY(limit_value(u, "Soft"));
    int64_t hard = BERTH_TRY(limit_value(u, "Hard"));
    // -1 is unlimited (as `--ulimit core=-1`).
    uint64_t s = soft < 0 ? RLIM_INFINITY : uint64_t(soft), h = hard < 0 ? RLIM_INFINITY : uint64_t(hard);
    if (s > h) return Error::invalid("ulimit soft limit must be less than or equal to hard limit: {} > {}", soft, hard);
    for (const auto& have : r.ulimits)
      if (have.resource == *resource) return Error::invalid("ulimit \"{}\" is given twice", name);
    r.ulimits.push_back({*resource, s, h});
  }
  return ok();
}

Result<NamespaceMode> namespace_mode(const Json& hc, const char* field, const char* what, bool shareable) {
  std::string v = BERTH_TRY(str_field(hc, field));
  NamespaceMode m;
  if (v.empty() || v == "private") return m;
  if (v == "host") {
    m.kind = Kind::kHost;
  } else if (shareable && v == "shareable") {
    m.kind = Kind::kShareable;
  } else if (starts_with(v, "container:") && v.size() > 10 && field != std::string_view("UTSMode")) {
    m.kind = Kind::kContainer;
    m.container = v.substr(10);
  } else if (shareable && v == "none") {
    return Error::invalid("IpcMode none is not supported by berth");
  } else {
    return Error::invalid("invalid {} mode: {}", what, v);
  }
  return m;
}

Result<void> namespaces(const Json& config, const Json& hc, SecurityRequest& r) {
  r.pid = BERTH_TRY(namespace_mode(hc, "PidMode", "PID", false));
  r.ipc = BERTH_TRY(namespace_mode(hc, "IpcMode", "IPC", true));
  r.uts = BERTH_TRY(namespace_mode(hc, "UTSMode", "UTS", false));
  std::string userns = BERTH_TRY(str_field(hc, "UsernsMode"));
  if (!userns.empty() && userns != "host")
    return Error::invalid("UsernsMode {} is not supported by berth: \"host\" or none (berthd --userns-remap "
                          "decides the rest)",
                          userns);
  r.host_userns = userns == "host";
  std::string runtime = BERTH_TRY(str_field(hc, "Runtime"));
  if (!runtime.empty() && runtime != "berth")
    return Error::invalid("unknown or invalid runtime name: {} (berth runs containers itself: its only runtime is berth)",
                          runtime);
  if (r.uts.kind == Kind::kHost && config.is_object() && !BERTH_TRY(str_field(config, "Hostname")).empty())
    return Error::invalid("Conflicting options: hostname and the UTS mode");
  return ok();
}

Result<void> sysctls(const Json& hc, SecurityRequest& r) {
  if (!hc.contains("Sysctls") || hc["Sysctls"].is_null()) return ok();
  if (!hc["Sysctls"].is_object()) return Error::invalid("invalid Sysctls: expected an object of strings");
  std::string net = BERTH_TRY(str_field(hc, "NetworkMode"));
  for (const auto& [k, v] : hc["Sysctls"].items()) {
    if (!v.is_string()) return Error::invalid("invalid Sysctls.{}: expected a string", k);
    BERTH_TRY_VOID(runtime::validate_sysctl(k, v.get<std::string>(), net == "host", r.ipc.kind == Kind::kHost));
    if (r.ipc.kind == Kind::kContainer && !starts_with(k, "net"))
      return Error::invalid("sysctl '{}' is not allowed: the container shares the IPC namespace of container {}", k,
                            r.ipc.container);
    r.sysctls.emplace_back(k, v.get<std::string>());
  }
  std::sort(r.sysctls.begin(), r.sysctls.end());
  return ok();
}

}  // namespace

Result<SecurityRequest> parse_security_request(const Json& config, const Json& host_config) {
  SecurityRequest r;
  static const Json kEmpty = Json::object();
  const Json& hc = host_config.is_object() ? host_config : kEmpty;
  if (!host_config.is_null() && !host_config.is_object()) return Error::invalid("invalid HostConfig: expected an object");
  r.privileged = BERTH_TRY(bool_field(hc, "Privileged", false));
  BERTH_TRY_VOID(capabilities(hc, r));
  for (const auto& opt : BERTH_TRY(string_list(hc, "SecurityOpt"))) BERTH_TRY_VOID(security_opt(opt, r));
  BERTH_TRY_VOID(system_paths(hc, r));
  BERTH_TRY_VOID(devices(hc, r));
  r.group_add = BERTH_TRY(string_list(hc, "GroupAdd"));
  for (const auto& g : r.group_add)
    if (g.empty() || g.find(':') != std::string::npos) return Error::invalid("invalid GroupAdd entry \"{}\"", g);
  BERTH_TRY_VOID(ulimits(hc, r));
  BERTH_TRY_VOID(namespaces(config, hc, r));
  BERTH_TRY_VOID(sysctls(hc, r));
  if (hc.contains("ShmSize") && !hc["ShmSize"].is_null()) {
    if (!hc["ShmSize"].is_number_integer()) return Error::invalid("invalid ShmSize: expected an integer");
    r.shm_size = hc["ShmSize"].get<int64_t>();
    if (r.shm_size < 0) return Error::invalid("SHM size can not be less than 0");
  }
  if (r.shm_size > 0 && (r.ipc.kind == Kind::kHost || r.ipc.kind == Kind::kContainer))
    return Error::invalid("--shm-size has no effect with --ipc {}: its /dev/shm is not the container's own",
                          r.ipc.kind == Kind::kHost ? "host" : "container");
  return r;
}

runtime::Security to_runtime_security(const SecurityRequest& r) {
  runtime::Security s;
  s.capabilities = r.capabilities;
  s.privileged = r.privileged;
  s.no_new_privileges = r.no_new_privileges;
  s.seccomp = r.seccomp;
  s.seccomp_profile = r.seccomp_profile;
  s.unmasked_paths = r.unmasked_paths;
  s.rlimits = r.ulimits;
  s.sysctls = r.sysctls;
  s.shm_size = r.shm_size;
  s.group_add = r.group_add;
  s.host_pid = r.pid.kind == Kind::kHost;
  s.host_ipc = r.ipc.kind == Kind::kHost;
  s.host_uts = r.uts.kind == Kind::kHost;
  return s;
}

}  // namespace berth::engine
