#include "core/engine/state_store.h"

#include <nlohmann/json.hpp>

#include "core/engine/security_state.h"

namespace berth::engine {

using nlohmann::json;

namespace {

Status status_from(const std::string& s) {
  for (Status st : {Status::kCreated, Status::kRunning, Status::kPaused, Status::kRestarting,
                    Status::kRemoving, Status::kExited, Status::kDead})
    if (s == status_name(st)) return st;
  return Status::kDead;
}

template <class T>
void put_opt(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
template <class T>
void get_opt(const json& j, const char* key, std::optional<T>& v) {
  if (j.contains(key) && !j[key].is_null()) v = j[key].get<T>();
}

json resources_json(const cgroups::Resources& r) {
  json j = json::object();
  put_opt(j, "memory", r.memory);
  put_opt(j, "memory_swap", r.memory_swap);
  put_opt(j, "memory_reservation", r.memory_reservation);
  put_opt(j, "nano_cpus", r.nano_cpus);
  put_opt(j, "cpu_shares", r.cpu_shares);
  put_opt(j, "cpu_period", r.cpu_period);
  put_opt(j, "cpu_quota", r.cpu_quota);
  put_opt(j, "cpuset_cpus", r.cpuset_cpus);
  put_opt(j, "cpuset_mems", r.cpuset_mems);
  put_opt(j, "pids_limit", r.pids_limit);
  put_opt(j, "blkio_weight", r.blkio_weight);
  return j;
}

void resources_from(const json& j, cgroups::Resources& r) {
  if (!j.is_object()) return;
  get_opt(j, "memory", r.memory);
  get_opt(j, "memory_swap", r.memory_swap);
  get_opt(j, "memory_reservation", r.memory_reservation);
  get_opt(j, "nano_cpus", r.nano_cpus);
  get_opt(j, "cpu_shares", r.cpu_shares);
  get_opt(j, "cpu_period", r.cpu_period);
  get_opt(j, "cpu_quota", r.cpu_quota);
  get_opt(j, "cpuset_cpus", r.cpuset_cpus);
  get_opt(j, "cpuset_mems", r.cpuset_mems);
  get_opt(j, "pids_limit", r.pids_limit);
  get_opt(j, "blkio_weight", r.blkio_weight);
}

const char* const kMountTypes[] = {"bind", "volume", "tmpfs"};
const char* const kMountOrigins[] = {"binds", "mounts", "tmpfs", "volumes"};

template <class E, size_t N>
E enum_from(const std::string& text, const char* const (&names)[N]) {
  for (size_t i = 0; i < N; i++)
    if (text == names[i]) return E(i);
  return E(0);
}

json mounts_json(const std::vector<MountSpec>& mounts) {
  json arr = json::array();
  for (const MountSpec& m : mounts)
    arr.push_back({{"type", kMountTypes[size_t(m.type)]},
                   {"origin", kMountOrigins[size_t(m.origin)]},
                   {"source", m.source},
                   {"target", m.target},
                   {"readonly", m.readonly},
                   {"mode", m.mode},
                   {"propagation", m.propagation},
                   {"nonrecursive", m.nonrecursive},
                   {"nocopy", m.nocopy},
                   {"anonymous", m.anonymous},
                   {"volume_labels", m.volume_labels},
                   {"host_path", m.host_path},
                   {"tmpfs_attrs", m.tmpfs_attrs},
                   {"tmpfs_options", m.tmpfs_options}});
  return arr;
}

std::vector<MountSpec> mounts_from(const json& arr) {
  std::vector<MountSpec> out;
  if (!arr.is_array()) return out;
  for (const json& j : arr) {
    MountSpec m;
    m.type = enum_from<MountSpec::Type>(j.value("type", ""), kMountTypes);
    m.origin = enum_from<MountSpec::Origin>(j.value("origin", ""), kMountOrigins);
    m.source = j.value("source", "");
    m.target = j.value("target", "");
    m.readonly = j.value("readonly", false);
    m.mode = j.value("mode", "");
    m.propagation = j.value("propagation", "");
    m.nonrecursive = j.value("nonrecursive", false);
    m.nocopy = j.value("nocopy", false);
    m.anonymous = j.value("anonymous", false);
    m.volume_labels = j.value("volume_labels", std::map<std::string, std::string>{});
    m.host_path = j.value("host_path", "");
    m.tmpfs_attrs = j.value("tmpfs_attrs", uint64_t(0));
    m.tmpfs_options = j.value("tmpfs_options", std::vector<std::pair<std::string, std::string>>{});
    out.push_back(std::move(m));
  }
  return out;
}

json spec_json(const CreateSpec& s) {
  return json{{"name", s.name},
              {"image", s.image},
              {"cmd", s.cmd},
              {"cmd_set", s.cmd_set},
              {"entrypoint", s.entrypoint},
              {"entrypoint_set", s.entrypoint_set},
              {"env", s.env},
              {"working_dir", s.working_dir},
              {"user", s.user},
              {"hostname", s.hostname},
              {"tty", s.tty},
              {"open_stdin", s.open_stdin},
              {"stdin_once", s.stdin_once},
              {"attach_stdin", s.attach_stdin},
              {"attach_stdout", s.attach_stdout},
              {"attach_stderr", s.attach_stderr},
              {"labels", s.labels},
              {"auto_remove", s.auto_remove},
              {"restart_policy", {{"name", restart_policy_name(s.restart.name)}, {"max_retries", s.restart.max_retries}}},
              {"stop_signal", s.stop_signal},
              {"stop_timeout_s", s.stop_timeout_s ? json(*s.stop_timeout_s) : json(nullptr)},
              {"network_mode", s.network_mode},
              {"net", net_to_json(s.net)},
              {"resources", resources_json(s.resources)},
              {"cgroup_parent", s.cgroup_parent},
              {"log_config", {{"type", s.log.type}, {"opts", s.log.opts}}},
              {"mounts", mounts_json(s.mounts)},
              {"readonly_rootfs", s.readonly_rootfs}, {"cgroupns_host", s.cgroupns_host},
              {"userns", {s.userns.uid, s.userns.gid, s.userns.size}},
              {"init", s.init},
              {"health", {{"test", s.health.test}, {"interval_ns", s.health.interval_ns}, {"timeout_ns", s.health.timeout_ns},
                          {"start_period_ns", s.health.start_period_ns}, {"start_interval_ns", s.health.start_interval_ns},
                          {"retries", s.health.retries}}},
              {"links", s.links},
              {"security", security_to_state(s.security)},
              {"config_json", s.config_json},
              {"host_config_json", s.host_config_json}};
}

void spec_from(const json& j, CreateSpec& s) {
  s.name = j.value("name", "");
  s.image = j.value("image", "");
  s.cmd = j.value("cmd", std::vector<std::string>{});
  s.cmd_set = j.value("cmd_set", false);
  s.entrypoint = j.value("entrypoint", std::vector<std::string>{});
  s.entrypoint_set = j.value("entrypoint_set", false);
  s.env = j.value("env", std::vector<std::string>{});
  s.working_dir = j.value("working_dir", "");
  s.user = j.value("user", "");
  s.hostname = j.value("hostname", "");
  s.tty = j.value("tty", false);
  s.open_stdin = j.value("open_stdin", false);
  s.stdin_once = j.value("stdin_once", false);
  s.attach_stdin = j.value("attach_stdin", false);
  s.attach_stdout = j.value("attach_stdout", true);
  s.attach_stderr = j.value("attach_stderr", true);
  s.labels = j.value("labels", std::map<std::string, std::string>{});
  s.auto_remove = j.value("auto_remove", false);
  if (j.contains("restart_policy") && j["restart_policy"].is_object()) {
    // Stored as given and parsed again; it was valid when set.
    auto rp = parse_restart_policy(j["restart_policy"].value("name", "no"), j["restart_policy"].value("max_retries", 0));
    if (rp) s.restart = *rp;
  }
  s.stop_signal = j.value("stop_signal", "");
  if (j.contains("stop_timeout_s") && j["stop_timeout_s"].is_number_integer()) s.stop_timeout_s = j["stop_timeout_s"].get<int>();
  s.network_mode = j.value("network_mode", "none");
  if (j.contains("net")) s.net = net_from_json(j["net"]);
  if (j.contains("resources")) resources_from(j["resources"], s.resources);
  s.cgroup_parent = j.value("cgroup_parent", "");
  if (j.contains("log_config")) {
    // Stored as given and parsed again; it was valid when created.
    auto lc = parse_log_config(j["log_config"].value("type", ""),
                               j["log_config"].value("opts", std::map<std::string, std::string>{}));
    if (lc) s.log = std::move(*lc);
  }
  if (j.contains("mounts")) s.mounts = mounts_from(j["mounts"]);
  s.readonly_rootfs = j.value("readonly_rootfs", false);
  s.init = j.value("init", false);
  if (j.contains("health") && j["health"].is_object()) {
    // Stored as given and checked again; it was valid when created.
    const json& h = j["health"];
    HealthConfig hc;
    if (check_health_config(h.value("test", std::vector<std::string>{}), h.value("interval_ns", int64_t(0)),
                            h.value("timeout_ns", int64_t(0)), h.value("start_period_ns", int64_t(0)),
                            h.value("start_interval_ns", int64_t(0)), h.value("retries", 0), &hc)
            .ok)
      s.health = std::move(hc);
  }
  s.cgroupns_host = j.value("cgroupns_host", false);
  if (j.contains("userns") && j["userns"].is_array() && j["userns"].size() == 3)
    s.userns = {j["userns"][0].get<uint32_t>(), j["userns"][1].get<uint32_t>(), j["userns"][2].get<uint32_t>()};
  s.links = j.value("links", std::vector<std::pair<std::string, std::string>>{});
  s.config_json = j.value("config_json", "{}");
  s.host_config_json = j.value("host_config_json", "{}");
}

}  // namespace

std::string encode_container(const Container& c) {
  json j{{"version", 1},
         {"id", c.id},
         {"name", c.name},
         {"created_ns", c.created_ns},
         {"image_id", c.image_id},
         {"image_ref", c.image_ref},
         {"path_args", c.path_args},
         {"restart_count", c.restart_count},
         {"manually_stopped", c.manually_stopped},
         {"spec", spec_json(c.spec)},
         {"state",
          {{"status", status_name(c.state.status)},
           {"pid", c.state.pid},
           {"start_ticks", c.state.start_ticks},
           {"exit_code", c.state.exit_code},
           {"oom_killed", c.state.oom_killed},
           {"error", c.state.error},
           {"started_ns", c.state.started_ns},
           {"finished_ns", c.state.finished_ns}}}};
  if (c.state.cgroup_base != cgroups::Cgroup::CounterBase{}) j["state"]["cgroup_base"] = c.state.cgroup_base;
  if (c.health_active) {
    json log = json::array();
    for (const HealthResult& r : c.health.log)
      log.push_back({{"start_ns", r.start_ns}, {"end_ns", r.end_ns}, {"exit_code", r.exit_code}, {"output", r.output}});
    j["health_state"] = {{"status", c.health.status}, {"failing_streak", c.health.failing_streak}, {"log", log}};
  }
  // NetworkService's own encoding, carried as it is.
  if (!c.net_state.empty() && is_running(c.state.status)) j["net_state"] = c.net_state;
  return j.dump();
}

Result<std::unique_ptr<Container>> decode_container(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::make(Code::kCorrupt, "container state is not valid JSON");
  auto c = std::make_unique<Container>();
  try {
    c->id = j.at("id").get<std::string>();
    c->name = j.value("name", "");
    c->created_ns = j.value("created_ns", int64_t(0));
    c->image_id = j.value("image_id", "");
    c->image_ref = j.value("image_ref", "");
    c->path_args = j.value("path_args", std::vector<std::string>{});
    c->restart_count = j.value("restart_count", 0);
    c->manually_stopped = j.value("manually_stopped", false);
    spec_from(j.at("spec"), c->spec);
    if (j["spec"].contains("security")) c->spec.security = BERTH_TRY(security_from_state(j["spec"]["security"]));
    const json& st = j.at("state");
    c->state.status = status_from(st.value("status", "dead"));
    c->state.pid = st.value("pid", 0);
    c->state.start_ticks = st.value("start_ticks", uint64_t(0));
    if (st.contains("cgroup_base")) c->state.cgroup_base = st["cgroup_base"].get<cgroups::Cgroup::CounterBase>();
    c->state.exit_code = st.value("exit_code", 0);
    c->state.oom_killed = st.value("oom_killed", false);
    c->state.error = st.value("error", "");
    c->state.started_ns = st.value("started_ns", int64_t(0));
    c->state.finished_ns = st.value("finished_ns", int64_t(0));
    if (j.contains("health_state") && j["health_state"].is_object()) {
      const json& h = j["health_state"];
      c->health.status = h.value("status", "starting");
      if (c->health.status != "healthy" && c->health.status != "unhealthy") c->health.status = "starting";
      c->health.failing_streak = h.value("failing_streak", 0);
      if (h.contains("log") && h["log"].is_array())
        for (const json& r : h["log"])
          c->health.log.push_back(HealthResult{.start_ns = r.value("start_ns", int64_t(0)),
                                               .end_ns = r.value("end_ns", int64_t(0)),
                                               .exit_code = r.value("exit_code", 0),
                                               .output = r.value("output", "")});
      c->health_active = true;
    }
    if (j.contains("net_state") && j["net_state"].is_string()) c->net_state = j["net_state"].get<std::string>();
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "container state: {}", e.what());
  }
  return c;
}

}  // namespace berth::engine
