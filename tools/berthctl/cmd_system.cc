// System commands: `version` (client, then GET /version) and `info`
// (GET /info), laid out like the docker CLI's default templates.
#include <sys/utsname.h>

#include <fmt/format.h>

#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

std::string client_arch() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

std::string line(int indent, std::string_view key, std::string_view value, size_t width) {
  std::string label = std::string(size_t(indent), ' ') + std::string(key) + ":";
  if (label.size() < width) label.append(width - label.size(), ' ');
  return label + std::string(value) + "\n";
}

int version(const Globals& g) {
  std::string text = "Client:\n";
  text += line(1, "Version", kVersion, 20);
  text += line(1, "API version", ipc::kClientApiVersion, 20);
  text += line(1, "OS/Arch", "linux/" + client_arch(), 20);
  out(text + "\n");
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> v = call_json(*c, "GET", "/version");
  if (!v) return fail(v.error());
  std::string platform = jstr(jget(*v, "Platform"), "Name");
  text = platform.empty() ? "Server:\n" : "Server: " + platform + "\n";
  text += " Engine:\n";
  text += line(2, "Version", jstr(*v, "Version"), 20);
  text += line(2, "API version", fmt::format("{} (minimum version {})", jstr(*v, "ApiVersion"), jstr(*v, "MinAPIVersion")), 20);
  text += line(2, "Git commit", jstr(*v, "GitCommit"), 20);
  text += line(2, "Built", jstr(*v, "BuildTime"), 20);
  text += line(2, "OS/Arch", jstr(*v, "Os") + "/" + jstr(*v, "Arch"), 20);
  text += line(2, "Kernel version", jstr(*v, "KernelVersion"), 20);
  const json& components = jget(*v, "Components");
  std::string experimental = "false";
  if (components.is_array() && !components.empty())
    experimental = jstr(jget(components[0], "Details"), "Experimental");
  text += line(2, "Experimental", experimental.empty() ? "false" : experimental, 20);
  out(text);
  return kExitOk;
}

std::string num(const json& j, std::string_view key) { return std::to_string(jint(j, key)); }

int info(const Globals& g) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> i = call_json(*c, "GET", "/info");
  if (!i) return fail(i.error());
  const json& j = *i;
  std::string t = "Client:\n Version:    " + std::string(kVersion) + "\n Context:    default\n\nServer:\n";
  t += " Containers: " + num(j, "Containers") + "\n";
  t += "  Running: " + num(j, "ContainersRunning") + "\n";
  t += "  Paused: " + num(j, "ContainersPaused") + "\n";
  t += "  Stopped: " + num(j, "ContainersStopped") + "\n";
  t += " Images: " + num(j, "Images") + "\n";
  t += " Server Version: " + jstr(j, "ServerVersion") + "\n";
  t += " Storage Driver: " + jstr(j, "Driver") + "\n";
  t += " Logging Driver: " + jstr(j, "LoggingDriver") + "\n";
  t += " Cgroup Driver: " + jstr(j, "CgroupDriver") + "\n";
  t += " Cgroup Version: " + jstr(j, "CgroupVersion") + "\n";
  t += " Default Runtime: " + jstr(j, "DefaultRuntime") + "\n";
  t += " Kernel Version: " + jstr(j, "KernelVersion") + "\n";
  t += " Operating System: " + jstr(j, "OperatingSystem") + "\n";
  t += " OSType: " + jstr(j, "OSType") + "\n";
  t += " Architecture: " + jstr(j, "Architecture") + "\n";
  t += " CPUs: " + num(j, "NCPU") + "\n";
  t += " Total Memory: " + bytes_size(jint(j, "MemTotal")) + "\n";
  t += " Name: " + jstr(j, "Name") + "\n";
  t += " ID: " + jstr(j, "ID") + "\n";
  t += " Docker Root Dir: " + jstr(j, "DockerRootDir") + "\n";
  const json& sec = jget(j, "SecurityOptions");
  if (sec.is_array() && !sec.empty()) {
    t += " Security Options:\n";
    for (const json& s : sec)
      if (s.is_string()) t += "  " + s.get<std::string>() + "\n";
  }
  out(t);
  return kExitOk;
}

}  // namespace

void add_system_commands(CLI::App& app, Globals& g, int& exit_code) {
  app.add_subcommand("version", "Show the berthctl and berthd version information")
      ->callback([&g, &exit_code] { exit_code = version(g); });
  app.add_subcommand("info", "Display system-wide information")->callback([&g, &exit_code] { exit_code = info(g); });
}

}  // namespace berth::ctl
