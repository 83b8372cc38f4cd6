// Confinement flags → HostConfig fields; see security_flags.h.
#include "tools/berthctl/security_flags.h"

#include "core/base/file.h"
#include "core/base/strings.h"
#include "tools/berthctl/units.h"

namespace berth::ctl {
namespace {

using nlohmann::json;

// --security-opt values; seccomp=FILE replaced by the file's JSON.
Result<json> security_opts(const std::vector<std::string>& opts, bool* unconfined_paths) {
  json out = json::array();
  for (const std::string& opt : opts) {
    if (opt == "systempaths=unconfined") {
      *unconfined_paths = true;
      continue;
    }
    size_t sep = opt.find('=');
    if (sep == std::string::npos && opt != "no-new-privileges") sep = opt.find(':');
    std::string key = opt.substr(0, sep), value = sep == std::string::npos ? "" : opt.substr(sep + 1);
    if ((sep == std::string::npos || value.empty()) && key != "no-new-privileges")
      return Error::invalid("Invalid --security-opt: \"{}\"", opt);
    if (key == "seccomp" && value != "builtin" && value != "unconfined") {
      auto text = read_file(value);
      if (!text) return Error::invalid("opening seccomp profile ({}) failed: {}", value, text.error().message());
      json profile = json::parse(*text, nullptr, false);
      if (profile.is_discarded())
        return Error::invalid("compacting json for seccomp profile ({}) failed: invalid JSON", value);
      out.push_back("seccomp=" + profile.dump());
      continue;
    }
    out.push_back(opt);
  }
  return out;
}

bool device_mode(std::string_view s) {
  if (s.empty() || s.size() > 3) return false;
  for (char c : s)
    if (c != 'r' && c != 'w' && c != 'm') return false;
  return true;
}

Result<json> device(const std::string& spec) {
  std::vector<std::string> parts = split(spec, ':');
  std::string src, dst, perms = "rwm";
  if (parts.empty() || parts.size() > 3) return Error::invalid("invalid device specification: {}", spec);
  src = parts[0];
  if (parts.size() >= 2) {
    if (device_mode(parts[1])) perms = parts[1];
    else dst = parts[1];
  }
  if (parts.size() == 3) perms = parts[2];
  if (src.empty()) return Error::invalid("invalid device specification: {}", spec);
  if (dst.empty()) dst = src;
  return json{{"PathOnHost", src}, {"PathInContainer", dst}, {"CgroupPermissions", perms}};
}

Result<json> ulimit(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) return Error::invalid("invalid ulimit argument: {}", spec);
  std::vector<std::string> limits = split(spec.substr(eq + 1), ':');
  if (limits.empty() || limits.size() > 2) return Error::invalid("too many limit value arguments - {}, can only have up to two, `soft[:hard]`", spec.substr(eq + 1));
  auto soft = parse_int(limits[0]);
  auto hard = limits.size() == 2 ? parse_int(limits[1]) : soft;
  if (!soft || !hard) return Error::invalid("invalid ulimit argument: {}", spec);
  return json{{"Name", spec.substr(0, eq)}, {"Hard", *hard}, {"Soft", *soft}};
}

}  // namespace

void add_security_flags(CLI::App* sub, SecurityFlags& f) {
  auto many = [](CLI::Option* o) { o->allow_extra_args(false); };
  sub->add_flag("--privileged", f.privileged, "Give extended privileges to this container");
  many(sub->add_option("--cap-add", f.cap_add, "Add Linux capabilities"));
  many(sub->add_option("--cap-drop", f.cap_drop, "Drop Linux capabilities"));
  many(sub->add_option("--security-opt", f.security_opt,
                       "Security options (seccomp=FILE|unconfined, no-new-privileges, systempaths=unconfined)"));
  many(sub->add_option("--device", f.devices, "Add a host device to the container (HOST[:CONTAINER][:PERMS])"));
  many(sub->add_option("--device-cgroup-rule", f.device_cgroup_rules, "Add a rule to the cgroup allowed devices list"));
  many(sub->add_option("--group-add", f.group_add, "Add additional groups to join"));
  many(sub->add_option("--ulimit", f.ulimits, "Ulimit options (NAME=SOFT[:HARD])"));
  many(sub->add_option("--sysctl", f.sysctls, "Sysctl options (K=V)"));
  sub->add_option("--shm-size", f.shm_size, "Size of /dev/shm (e.g. 64m)");
  sub->add_option("--pid", f.pid, "PID namespace to use (host, container:NAME)");
  sub->add_option("--ipc", f.ipc, "IPC mode to use (private, shareable, host, container:NAME)");
  sub->add_option("--uts", f.uts, "UTS namespace to use (host)");
  sub->add_option("--userns", f.userns, "User namespace to use (host)");
  sub->add_option("--runtime", f.runtime, "Runtime to use for this container");
}

Result<void> apply_security_flags(const SecurityFlags& f, json& host) {
  if (f.privileged) host["Privileged"] = true;
  if (!f.cap_add.empty()) host["CapAdd"] = f.cap_add;
  if (!f.cap_drop.empty()) host["CapDrop"] = f.cap_drop;
  bool unconfined_paths = false;
  json opts = BERTH_TRY(security_opts(f.security_opt, &unconfined_paths));
  if (!opts.empty()) host["SecurityOpt"] = opts;
  if (unconfined_paths) host["MaskedPaths"] = host["ReadonlyPaths"] = json::array();
  if (!f.devices.empty()) {
    json devices = json::array();
    for (const auto& d : f.devices) devices.push_back(BERTH_TRY(device(d)));
    host["Devices"] = devices;
  }
  if (!f.device_cgroup_rules.empty()) host["DeviceCgroupRules"] = f.device_cgroup_rules;
  if (!f.group_add.empty()) host["GroupAdd"] = f.group_add;
  if (!f.ulimits.empty()) {
    json ulimits = json::array();
    for (const auto& u : f.ulimits) ulimits.push_back(BERTH_TRY(ulimit(u)));
    host["Ulimits"] = ulimits;
  }
  if (!f.sysctls.empty()) {
    json sysctls = json::object();
    for (const auto& kv : f.sysctls) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) return Error::invalid("invalid argument \"{}\" for \"--sysctl\" flag: sysctl '{}' is not allowed", kv, kv);
      sysctls[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    host["Sysctls"] = sysctls;
  }
  if (!f.shm_size.empty()) {
    auto bytes = ram_in_bytes(f.shm_size);
    if (!bytes) return Error::invalid("invalid argument \"{}\" for \"--shm-size\" flag: {}", f.shm_size, bytes.error().message());
    host["ShmSize"] = *bytes;
  }
  for (auto [field, value] : {std::pair{"PidMode", &f.pid}, {"IpcMode", &f.ipc}, {"UTSMode", &f.uts},
                              {"UsernsMode", &f.userns}, {"Runtime", &f.runtime}})
    if (!value->empty()) host[field] = *value;
  return ok();
}

}  // namespace berth::ctl
