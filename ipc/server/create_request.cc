#include "ipc/server/create_request.h"

#include "ipc/server/api_fields.h"
#include "core/base/signals.h"
#include "core/engine/security_options.h"

#include "ipc/server/json_util.h"
#include "ipc/server/mount_request.h"

namespace berth::ipc {

namespace {

Result<std::optional<int64_t>> int_field(const Json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<int64_t>();
  const Json& v = j[field];
  if (v.is_number_integer()) return std::optional<int64_t>(v.get<int64_t>());
  if (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>())))
    return std::optional<int64_t>(int64_t(v.get<double>()));
  return Error::invalid("invalid {}: expected an integer", field);
}

// HostConfig.LogConfig: {"Type": "json-file", "Config": {"max-size": "10m", ...}}.
Result<engine::LogConfig> parse_log_config(const Json& hc) {
  if (!hc.contains("LogConfig") || hc["LogConfig"].is_null()) return engine::LogConfig{};
  const Json& lc = hc["LogConfig"];
  if (!lc.is_object()) return Error::invalid("invalid LogConfig: expected an object");
  std::string type = BERTH_TRY(str_field(lc, "Type"));
  std::map<std::string, std::string> opts;
  if (lc.contains("Config") && !lc["Config"].is_null()) {
    if (!lc["Config"].is_object()) return Error::invalid("invalid LogConfig.Config: expected an object");
    for (auto& [k, v] : lc["Config"].items()) {
      if (!v.is_string()) return Error::invalid("invalid LogConfig.Config.{}: expected a string", k);
      opts[k] = v.get<std::string>();
    }
  }
  return engine::parse_log_config(type, opts);
}

// Config.Healthcheck: {Test, Interval, Timeout, StartPeriod, StartInterval,
// Retries} (durations in ns), checked by engine::check_health_config.
// Members the API does not have are ignored with a warning, as for every
// other object (api_fields.h).
Result<void> parse_healthcheck(const Json& j, engine::HealthConfig& out, std::vector<std::string>* warnings) {
  if (!j.contains("Healthcheck") || j["Healthcheck"].is_null()) return ok();
  const Json& h = j["Healthcheck"];
  if (!h.is_object()) return Error::invalid("invalid Healthcheck: expected an object");
  for (const auto& [k, v] : h.items())
    if (k != "Test" && k != "Interval" && k != "Timeout" && k != "StartPeriod" && k != "StartInterval" &&
        k != "Retries" && warnings)
      warnings->push_back(fmt::format("Config.Healthcheck.{} is not a Docker Engine API field; ignored", k));
  bool set;
  std::vector<std::string> test = BERTH_TRY(str_slice(h, "Test", &set));
  auto num = [&](const char* f) -> Result<int64_t> { return BERTH_TRY(int_field(h, f)).value_or(0); };
  int64_t interval = BERTH_TRY(num("Interval")), timeout = BERTH_TRY(num("Timeout"));
  int64_t start_period = BERTH_TRY(num("StartPeriod")), start_interval = BERTH_TRY(num("StartInterval"));
  int64_t retries = BERTH_TRY(num("Retries"));
  auto v = engine::check_health_config(test, interval, timeout, start_period, start_interval, retries, &out);
  if (!v.ok) return Error::invalid("{}", v.error);
  return ok();
}

}  // namespace

Result<std::optional<std::pair<std::string, int64_t>>> restart_policy_field(const Json& obj) {
  using Out = std::optional<std::pair<std::string, int64_t>>;
  if (!obj.contains("RestartPolicy") || obj["RestartPolicy"].is_null()) return Out();
  const Json& rp = obj["RestartPolicy"];
  if (!rp.is_object()) return Error::invalid("invalid RestartPolicy: expected an object");
  std::string name = BERTH_TRY(str_field(rp, "Name"));
  auto count = BERTH_TRY(int_field(rp, "MaximumRetryCount"));
  return Out(std::pair{name, count.value_or(0)});
}

Result<ConsoleSize> console_size_field(const Json& obj) {
  if (!obj.contains("ConsoleSize") || obj["ConsoleSize"].is_null()) return ConsoleSize{};
  const Json& v = obj["ConsoleSize"];
  auto dim = [](const Json& d) { return d.is_number_unsigned() && d.get<uint64_t>() <= 0xffff; };
  if (!v.is_array() || v.size() != 2 || !dim(v[0]) || !dim(v[1]))
    return Error::invalid("invalid ConsoleSize: expected [height, width] with values from 0 to 65535");
  return ConsoleSize{v[0].get<unsigned short>(), v[1].get<unsigned short>()};
}

namespace {

Result<void> parse_host_config(const Json& body, engine::CreateSpec& s) {
  if (!body.contains("HostConfig") || body["HostConfig"].is_null()) return ok();
  const Json& hc = body["HostConfig"];
  if (!hc.is_object()) return Error::invalid("invalid HostConfig: expected an object");
  s.auto_remove = BERTH_TRY(bool_field(hc, "AutoRemove", false));
  if (auto rp = BERTH_TRY(restart_policy_field(hc))) s.restart = BERTH_TRY(engine::parse_restart_policy(rp->first, rp->second));
  if (s.auto_remove && !s.restart.none())
    return Error::invalid("can't create 'AutoRemove' container with restart policy");
  std::string mode = BERTH_TRY(str_field(hc, "NetworkMode"));
  if (!mode.empty()) s.network_mode = mode;
  s.resources = BERTH_TRY(parse_resources(hc));
  s.cgroup_parent = BERTH_TRY(str_field(hc, "CgroupParent"));
  s.log = BERTH_TRY(parse_log_config(hc));
  s.readonly_rootfs = BERTH_TRY(bool_field(hc, "ReadonlyRootfs", false));
  s.init = BERTH_TRY(bool_field(hc, "Init", false));
  // Private by default on every host (Docker's default on cgroup v2; on v1
  // Docker shares the host's): the container's /sys/fs/cgroup shows its own
  // cgroup, so runtimes size themselves by its limits.
  std::string cgroupns = BERTH_TRY(str_field(hc, "CgroupnsMode"));
  if (cgroupns != "" && cgroupns != "private" && cgroupns != "host")
    return Error::invalid("invalid cgroup namespace mode: {}", cgroupns);
  s.cgroupns_host = cgroupns == "host";
  // Links: "name:alias" or "name" (the alias is then the name).
  for (const std::string& link : BERTH_TRY(str_slice(hc, "Links", nullptr))) {
    auto colon = link.find(':');
    std::string target = link.substr(0, colon), alias = colon == std::string::npos ? target : link.substr(colon + 1);
    if (!target.empty() && target[0] == '/') target.erase(0, 1);
    if (!alias.empty() && alias[0] == '/') alias.erase(0, 1);
    if (target.empty() || alias.empty() || alias.find('/') != std::string::npos)
      return Error::invalid("invalid link {}: expected name:alias", link);
    s.links.emplace_back(target, alias);
  }
  ConsoleSize size = BERTH_TRY(console_size_field(hc));
  s.console_rows = size.rows;
  s.console_cols = size.cols;
  s.host_config_json = hc.dump();
  return ok();
}

}  // namespace

Result<cgroups::Resources> parse_resources(const Json& obj) {
  cgroups::Resources r;
  if (!obj.is_object()) return Error::invalid("invalid resources: expected an object");
  auto nonzero = [&](const char* field, std::optional<int64_t>& out) -> Result<void> {
    auto v = BERTH_TRY(int_field(obj, field));
    if (v && *v != 0) out = *v;
    return ok();
  };
  BERTH_TRY_VOID(nonzero("Memory", r.memory));
  BERTH_TRY_VOID(nonzero("MemorySwap", r.memory_swap));
  BERTH_TRY_VOID(nonzero("MemoryReservation", r.memory_reservation));
  BERTH_TRY_VOID(nonzero("NanoCpus", r.nano_cpus));
  BERTH_TRY_VOID(nonzero("CpuShares", r.cpu_shares));
  BERTH_TRY_VOID(nonzero("CpuPeriod", r.cpu_period));
  BERTH_TRY_VOID(nonzero("CpuQuota", r.cpu_quota));
  BERTH_TRY_VOID(nonzero("PidsLimit", r.pids_limit));
  std::optional<int64_t> blkio;
  BERTH_TRY_VOID(nonzero("BlkioWeight", blkio));
  if (blkio) {
    if (*blkio < 0 || *blkio > 65535) return Error::invalid("Range of blkio weight is from 10 to 1000");
    r.blkio_weight = uint16_t(*blkio);
  }
  for (auto [field, out] : {std::pair{"CpusetCpus", &r.cpuset_cpus}, {"CpusetMems", &r.cpuset_mems}}) {
    std::string v = BERTH_TRY(str_field(obj, field));
    if (!v.empty()) *out = v;
  }
  return r;
}

// Every member of the body against the API field table (api_fields.h):
// refused ones set are a 400, warned ones go to `warnings`.
Result<void> check_create_fields(const Json& j, std::vector<std::string>* warnings) {
  BERTH_TRY_VOID(check_fields("Config", j, warnings));
  if (j.contains("HostConfig")) BERTH_TRY_VOID(check_fields("HostConfig", j["HostConfig"], warnings));
  if (j.contains("NetworkingConfig") && j["NetworkingConfig"].is_object()) {
    const Json& nc = j["NetworkingConfig"];
    for (const auto& [k, v] : nc.items()) {
      if (k != "EndpointsConfig") {
        if (field_is_set(v, nullptr)) return Error::invalid("berth does not know NetworkingConfig.{}", k);
        continue;
      }
      if (!v.is_object()) continue;
      for (const auto& [network, settings] : v.items()) BERTH_TRY_VOID(check_fields("EndpointSettings", settings, warnings));
    }
  }
  return ok();
}

Result<engine::CreateSpec> parse_create_request(const std::string& body, const std::string& name,
                                                std::vector<std::string>* warnings) {
  Json j = BERTH_TRY(parse_body(body));
  BERTH_TRY_VOID(check_create_fields(j, warnings));
  engine::CreateSpec s;
  s.name = name;
  s.image = BERTH_TRY(str_field(j, "Image"));
  if (s.image.empty()) return Error::invalid("config cannot be empty in order to create a container");
  s.cmd = BERTH_TRY(str_slice(j, "Cmd", &s.cmd_set));
  s.entrypoint = BERTH_TRY(str_slice(j, "Entrypoint", &s.entrypoint_set));
  // An empty entrypoint array resets the image's entrypoint (docker --entrypoint "").
  bool env_set;
  for (auto& e : BERTH_TRY(str_slice(j, "Env", &env_set))) {
    if (e.empty() || e[0] == '=') return Error::invalid("invalid environment variable: {}", e);
    s.env.push_back(e);
  }
  s.working_dir = BERTH_TRY(str_field(j, "WorkingDir"));
  if (!s.working_dir.empty() && s.working_dir[0] != '/')
    return Error::invalid("the working directory '{}' is invalid, it needs to be an absolute path", s.working_dir);
  s.user = BERTH_TRY(str_field(j, "User"));
  s.hostname = BERTH_TRY(str_field(j, "Hostname"));
  BERTH_TRY_VOID(parse_healthcheck(j, s.health, warnings));
  s.stop_signal = BERTH_TRY(str_field(j, "StopSignal"));
  if (!s.stop_signal.empty()) BERTH_TRY_VOID(parse_signal(s.stop_signal));
  if (auto t = BERTH_TRY(int_field(j, "StopTimeout"))) {
    if (*t < -1 || *t > 86400 * 365) return Error::invalid("invalid StopTimeout {}: expected -1 (no limit) or 0 and more seconds", *t);
    s.stop_timeout_s = int(*t);
  }
  if (s.hostname.size() > 63) return Error::invalid("invalid hostname: longer than 63 characters");
  s.tty = BERTH_TRY(bool_field(j, "Tty", false));
  s.open_stdin = BERTH_TRY(bool_field(j, "OpenStdin", false));
  s.stdin_once = BERTH_TRY(bool_field(j, "StdinOnce", false));
  s.attach_stdin = BERTH_TRY(bool_field(j, "AttachStdin", false));
  s.attach_stdout = BERTH_TRY(bool_field(j, "AttachStdout", true));
  s.attach_stderr = BERTH_TRY(bool_field(j, "AttachStderr", true));
  if (j.contains("Labels") && !j["Labels"].is_null()) {
    if (!j["Labels"].is_object()) return Error::invalid("invalid Labels: expected an object");
    for (auto& [k, v] : j["Labels"].items()) {
      if (!v.is_string()) return Error::invalid("invalid label {}: expected a string", k);
      s.labels[k] = v.get<std::string>();
    }
  }
  BERTH_TRY_VOID(parse_host_config(j, s));
  static const Json kNoHostConfig;
  const Json& host_config = j.contains("HostConfig") ? j["HostConfig"] : kNoHostConfig;
  s.mounts = BERTH_TRY(parse_mounts(j, host_config));
  s.security = BERTH_TRY(engine::parse_security_request(j, host_config));
  BERTH_TRY_VOID(engine::parse_network_request(j, host_config,
                                               j.contains("NetworkingConfig") ? j["NetworkingConfig"] : Json(),
                                               s.network_mode, s.net));
  j.erase("HostConfig");
  j.erase("NetworkingConfig");
  s.config_json = j.dump();
  return s;
}

}  // namespace berth::ipc
