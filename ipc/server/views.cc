#include "ipc/server/views.h"

#include "core/base/strings.h"
#include "ipc/server/network_views.h"
#include "ipc/server/security_view.h"

namespace berth::ipc {

namespace {

using engine::Status;

Json parse_or(const std::string& text, Json dflt) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() || !j.is_object() ? dflt : j;
}

std::string command_text(const engine::Container& c) {
  std::string out;
  for (const auto& a : c.path_args) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

OrderedJson state_json(const engine::Container& c) {
  const auto& s = c.state;
  // Docker counts a container waiting for its policy's restart as running.
  bool running = s.status == Status::kRunning || s.status == Status::kPaused || s.status == Status::kRestarting;
  return {{"Status", engine::status_name(s.status)},
          {"Running", running},
          {"Paused", s.status == Status::kPaused},
          {"Restarting", s.status == Status::kRestarting},
          {"OOMKilled", s.oom_killed},
          {"Dead", s.status == Status::kDead},
          {"Pid", s.pid},
          {"ExitCode", s.exit_code},
          {"Error", s.error},
          {"StartedAt", format_rfc3339_nano(s.started_ns)},
          {"FinishedAt", format_rfc3339_nano(s.finished_ns)}};
}

// State.Health of a container with a health check: the status, the
// failing streak and the last five results.
OrderedJson health_json(const engine::Container& c) {
  OrderedJson log = OrderedJson::array();
  for (const auto& r : c.health.log)
    log.push_back({{"Start", format_rfc3339_nano(r.start_ns)},
                   {"End", format_rfc3339_nano(r.end_ns)},
                   {"ExitCode", r.exit_code},
                   {"Output", r.output}});
  return {{"Status", c.health.status}, {"FailingStreak", c.health.failing_streak}, {"Log", log}};
}

OrderedJson config_json(const engine::Container& c) {
  const auto& sp = c.spec;
  Json raw = parse_or(sp.config_json, Json::object());
  OrderedJson j = {{"Hostname", sp.hostname.empty() ? c.id.substr(0, 12) : sp.hostname},
                   {"Domainname", ""},
                   {"User", sp.user},
                   {"AttachStdin", sp.attach_stdin},
                   {"AttachStdout", sp.attach_stdout},
                   {"AttachStderr", sp.attach_stderr},
                   {"Tty", sp.tty},
                   {"OpenStdin", sp.open_stdin},
                   {"StdinOnce", sp.stdin_once},
                   {"Env", sp.env},
                   {"Cmd", sp.cmd_set ? OrderedJson(sp.cmd) : OrderedJson(nullptr)},
                   {"Image", c.image_ref},
                   {"Volumes", nullptr},
                   {"WorkingDir", sp.working_dir},
                   {"Entrypoint", sp.entrypoint_set ? OrderedJson(sp.entrypoint) : OrderedJson(nullptr)},
                   {"OnBuild", nullptr},
                   {"Labels", sp.labels}};
  if (raw.contains("ExposedPorts")) j["ExposedPorts"] = raw["ExposedPorts"];
  if (raw.contains("Volumes")) j["Volumes"] = raw["Volumes"];
  // Given, or the image's (merged at create).
  if (!sp.health.test.empty()) {
    OrderedJson h = {{"Test", sp.health.test}};
    if (sp.health.interval_ns) h["Interval"] = sp.health.interval_ns;
    if (sp.health.timeout_ns) h["Timeout"] = sp.health.timeout_ns;
    if (sp.health.start_period_ns) h["StartPeriod"] = sp.health.start_period_ns;
    if (sp.health.start_interval_ns) h["StartInterval"] = sp.health.start_interval_ns;
    if (sp.health.retries) h["Retries"] = sp.health.retries;
    j["Healthcheck"] = std::move(h);
  } else if (raw.contains("Healthcheck")) {
    j["Healthcheck"] = raw["Healthcheck"];
  }
  if (!sp.stop_signal.empty()) j["StopSignal"] = sp.stop_signal;   // given, or the image's
  if (sp.stop_timeout_s) j["StopTimeout"] = *sp.stop_timeout_s;
  return j;
}

// Docker's MountPoint list. HostConfig.Tmpfs entries are not mount points
// in Docker's model and are not listed (Mounts type=tmpfs are).
void write_mount_points(JsonWriter& w, const engine::Container& c) {
  using engine::MountSpec;
  w.begin_array();
  for (const MountSpec& m : c.spec.mounts) {
    switch (m.type) {
      case MountSpec::Type::kBind:
        w.begin_object()
            .member("Type", "bind")
            .member("Source", m.source)
            .member("Destination", m.target)
            .member("Mode", m.mode)
            .member("RW", !m.readonly)
            .member("Propagation", m.propagation)
            .end_object();
        break;
      case MountSpec::Type::kVolume: {
        // Docker shows its Linux default mode "z" for named volumes given in Binds.
        bool named_bind = m.origin == MountSpec::Origin::kBinds && !m.anonymous;
        std::string mode = !m.mode.empty() ? m.mode : named_bind ? "z" : "";
        w.begin_object()
            .member("Type", "volume")
            .member("Name", m.source)
            .member("Source", m.host_path)
            .member("Destination", m.target)
            .member("Driver", "local")
            .member("Mode", mode)
            .member("RW", !m.readonly)
            .member("Propagation", "")
            .end_object();
        break;
      }
      case MountSpec::Type::kTmpfs:
        if (m.origin == MountSpec::Origin::kTmpfs) break;
        w.begin_object()
            .member("Type", "tmpfs")
            .member("Source", "")
            .member("Destination", m.target)
            .member("Mode", "")
            .member("RW", !m.readonly)
            .member("Propagation", "")
            .end_object();
        break;
    }
  }
  w.end_array();
}

OrderedJson mount_points(const engine::Container& c) {
  return written_tree([&](JsonWriter& w) { write_mount_points(w, c); });
}

}  // namespace

std::string container_status_text(const engine::Container& c, int64_t now) {
  const auto& s = c.state;
  switch (s.status) {
    case Status::kCreated: return "Created";
    case Status::kRunning: {
      std::string up = "Up " + human_duration(now - s.started_ns);
      if (!c.spec.health.enabled() || !c.health_active) return up;
      if (c.health.status == "starting") return up + " (health: starting)";
      return up + " (" + c.health.status + ")";
    }
    case Status::kPaused: return "Up " + human_duration(now - s.started_ns) + " (Paused)";
    case Status::kRestarting: return fmt::format("Restarting ({}) {} ago", s.exit_code, human_duration(now - s.finished_ns));
    case Status::kRemoving: return "Removal In Progress";
    case Status::kDead: return "Dead";
    case Status::kExited:
      if (s.finished_ns == 0) return fmt::format("Exited ({})", s.exit_code);
      return fmt::format("Exited ({}) {} ago", s.exit_code, human_duration(now - s.finished_ns));
  }
  return "";
}

OrderedJson container_inspect(const engine::Container& c, const engine::NetworkService& nets) {
  Json host_config = parse_or(c.spec.host_config_json, Json::object());
  host_config["NetworkMode"] = c.spec.network_mode;
  host_config["AutoRemove"] = c.spec.auto_remove;
  // As it is now (update changes it).
  host_config["RestartPolicy"] = {{"Name", engine::restart_policy_name(c.spec.restart.name)},
                                  {"MaximumRetryCount", c.spec.restart.max_retries}};
  host_config["LogConfig"] = {{"Type", c.spec.log.type.empty() ? "json-file" : c.spec.log.type},
                              {"Config", c.spec.log.opts}};
  // Limits as they are now (update changes them after create).
  const auto& r = c.spec.resources;
  host_config["Memory"] = r.memory.value_or(0);
  host_config["MemorySwap"] = r.memory_swap.value_or(0);
  host_config["MemoryReservation"] = r.memory_reservation.value_or(0);
  host_config["NanoCpus"] = r.nano_cpus.value_or(0);
  host_config["CpuShares"] = r.cpu_shares.value_or(0);
  host_config["CpuPeriod"] = r.cpu_period.value_or(0);
  host_config["CpuQuota"] = r.cpu_quota.value_or(0);
  host_config["CpusetCpus"] = r.cpuset_cpus.value_or("");
  host_config["CpusetMems"] = r.cpuset_mems.value_or("");
  host_config["PidsLimit"] = r.pids_limit ? Json(*r.pids_limit) : Json(nullptr);
  host_config["BlkioWeight"] = r.blkio_weight.value_or(0);
  host_config["CgroupParent"] = c.spec.cgroup_parent;
  // Links as Docker shows them: "/target:/container/alias".
  Json links = Json::array();
  for (const auto& [target, alias] : c.spec.links) links.push_back(fmt::format("/{}:/{}/{}", target, c.name, alias));
  host_config["Links"] = c.spec.links.empty() ? Json(nullptr) : links;
  add_security_fields(c.spec.security, host_config);
  OrderedJson args = OrderedJson::array();
  for (size_t i = 1; i < c.path_args.size(); i++) args.push_back(c.path_args[i]);
  return {{"Id", c.id},
          {"Created", format_rfc3339_nano(c.created_ns)},
          {"Path", c.path_args.empty() ? "" : c.path_args[0]},
          {"Args", args},
          {"State", c.spec.health.enabled() ? [&] {
             OrderedJson st = state_json(c);
             st["Health"] = health_json(c);
             return st;
           }() : state_json(c)},
          {"Image", c.image_id},
          {"ResolvConfPath", etc_file_path(c, "resolv.conf")},
          {"HostnamePath", etc_file_path(c, "hostname")},
          {"HostsPath", etc_file_path(c, "hosts")},
          {"LogPath", c.log_path()},
          // berth's own: output dropped by mode=non-blocking logging.
          {"LogDropped", {{"Bytes", c.log_dropped_bytes}, {"Records", c.log_dropped_records}}},
          {"Name", "/" + c.name},
          {"RestartCount", c.restart_count},
          {"Driver", "overlay2"},
          {"Platform", "linux"},
          {"MountLabel", ""},
          {"ProcessLabel", ""},
          {"AppArmorProfile", ""},
          {"ExecIDs", c.exec_ids.empty() ? OrderedJson(nullptr) : OrderedJson(c.exec_ids)},
          {"HostConfig", host_config},
          {"GraphDriver", {{"Name", "overlay2"}, {"Data", {{"UpperDir", c.dir + "/upper"}, {"WorkDir", c.dir + "/work"}, {"MergedDir", c.dir + "/rootfs"}}}}},
          {"Mounts", mount_points(c)},
          {"Config", config_json(c)},
          {"NetworkSettings", network_settings(nets, c)}};
}

void write_container_summary(JsonWriter& w, const engine::Container& c, const engine::NetworkService& nets,
                             int64_t now) {
  w.begin_object().member("Id", c.id).key("Names").begin_array().value("/" + c.name).end_array();
  w.member("Image", c.image_ref)
      .member("ImageID", c.image_id)
      .member("Command", command_text(c))
      .member("Created", int64_t(c.created_ns / 1000000000))
      .key("Ports");
  write_summary_ports(w, nets, c);
  w.key("Labels").string_map(c.spec.labels);
  w.member("State", engine::status_name(c.state.status)).member("Status", container_status_text(c, now));
  w.key("HostConfig").begin_object().member("NetworkMode", c.spec.network_mode).end_object();
  w.key("NetworkSettings");
  write_summary_network_settings(w, nets, c);
  w.key("Mounts");
  write_mount_points(w, c);
  w.end_object();
}

OrderedJson container_summary(const engine::Container& c, const engine::NetworkService& nets) {
  return written_tree([&](JsonWriter& w) { write_container_summary(w, c, nets, now_ns()); });
}

OrderedJson image_config_json(const engine::ImageConfig& cfg) {
  OrderedJson ports = OrderedJson::object();
  for (const auto& p : cfg.exposed_ports) ports[p] = OrderedJson::object();
  OrderedJson j = {{"Env", cfg.env},
          {"Cmd", cfg.cmd.empty() ? OrderedJson(nullptr) : OrderedJson(cfg.cmd)},
          {"Entrypoint", cfg.entrypoint.empty() ? OrderedJson(nullptr) : OrderedJson(cfg.entrypoint)},
          {"WorkingDir", cfg.working_dir},
          {"User", cfg.user},
          {"Labels", cfg.labels},
          {"ExposedPorts", ports},
          {"StopSignal", cfg.stop_signal}};
  if (!cfg.health_test.empty()) {
    j["Healthcheck"] = {{"Test", cfg.health_test}, {"Interval", cfg.health_interval_ns}, {"Timeout", cfg.health_timeout_ns},
                        {"StartPeriod", cfg.health_start_period_ns}, {"StartInterval", cfg.health_start_interval_ns},
                        {"Retries", cfg.health_retries}};
  }
  return j;
}

OrderedJson image_summary(const engine::Image& img) {
  return {{"Id", img.id},
          {"ParentId", ""},
          {"RepoTags", img.repo_tags},
          {"RepoDigests", img.repo_digests},
          {"Created", img.created_ns / 1000000000},
          {"Size", img.size_bytes},
          {"SharedSize", -1},
          {"VirtualSize", img.size_bytes},
          {"Labels", img.config.labels},
          {"Containers", -1}};
}

OrderedJson image_delete_items(const std::vector<engine::ImageDeleteItem>& items) {
  OrderedJson arr = OrderedJson::array();
  for (const auto& it : items)
    arr.push_back(it.untagged.empty() ? OrderedJson{{"Deleted", it.deleted}} : OrderedJson{{"Untagged", it.untagged}});
  return arr;
}

OrderedJson image_inspect(const engine::Image& img) {
  return {{"Id", img.id},
          {"RepoTags", img.repo_tags},
          {"RepoDigests", img.repo_digests},
          {"Parent", ""},
          {"Comment", img.comment},
          {"Created", format_rfc3339_nano(img.created_ns)},
          {"DockerVersion", ""},
          {"Author", img.author},
          {"Config", image_config_json(img.config)},
          {"Architecture", img.architecture},
          {"Os", img.os},
          {"Size", img.size_bytes},
          {"GraphDriver", {{"Name", "overlay2"}, {"Data", OrderedJson::object()}}},
          {"RootFS", {{"Type", "layers"}, {"Layers", img.diff_ids}}},
          {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
}

}  // namespace berth::ipc
