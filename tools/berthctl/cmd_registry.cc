// `pull`, `push`, `login`, `logout`: the docker CLI's registry commands.
//
//   pull [--platform P] [-q] NAME[:TAG|@DIGEST]
//       → POST /images/create?fromImage=NAME&tag=TAG[&platform=P]
//         with X-Registry-Auth from the credentials file (auth_file.h)
//   push [-a] [-q] NAME[:TAG]
//       → POST /images/NAME/push?tag=TAG (no tag with -a: every local tag)
//   login [-u USER] [-p PASS | --password-stdin] [SERVER]
//       → POST /auth {"username","password","serveraddress"}; on 200 the
//         credentials (or the identity token the registry gave) are saved
//   logout [SERVER]   removes the saved entry (no daemon call)
//
// Progress is drawn by ProgressDisplay (progress.h): a bar per layer on a
// terminal, plain lines otherwise. An error before the stream is the
// daemon's HTTP error; one inside it is its last line. Exit 0 or 1.
#include <termios.h>
#include <unistd.h>

#include <memory>

#include <fmt/format.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/auth_file.h"
#include "tools/berthctl/berthctl.h"
#include "tools/berthctl/progress.h"

namespace berth::ctl {

namespace {

// "busybox" → ("busybox", ""); "reg:5000/x:v1" → ("reg:5000/x", "v1"),
// "x@sha256:…" → ("x", "sha256:…") (the API takes a digest as the tag).
std::pair<std::string, std::string> split_reference(std::string_view ref) {
  if (size_t at = ref.find('@'); at != std::string_view::npos)
    return {std::string(ref.substr(0, at)), std::string(ref.substr(at + 1))};
  size_t colon = ref.rfind(':'), slash = ref.rfind('/');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) return {std::string(ref), ""};
  return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

// What the docker CLI prints after a pull: the canonical reference.
std::string canonical(const std::string& name, const std::string& tag) {
  std::string full = name;
  if (registry_of(name) == "docker.io" && !name.starts_with("docker.io/"))
    full = "docker.io/" + std::string(name.find('/') == std::string::npos ? "library/" : "") + name;
  return full + (tag.starts_with("sha256:") ? "@" : ":") + tag;
}

// The X-Registry-Auth header for `image`'s registry, from the saved
// credentials (none: no header, an anonymous request).
Result<ipc::Headers> auth_headers(const std::string& image) {
  std::string key = auth_key(registry_of(image));
  StoredAuth a = BERTH_TRY(load_auth(auth_file_path(), key));
  if (a.empty()) return ipc::Headers{};
  return ipc::Headers{{"X-Registry-Auth", registry_auth_header(a, key)}};
}

int terminal_width(int fd) {
  ConsoleSize s = console_size_of(fd);
  return s.known() ? int(s.cols) : 80;
}

// Reads a started progress stream to its end, drawing it on `fd`.
Result<void> show_progress(Client& c, int fd, bool quiet) {
  ProgressDisplay display(is_terminal(fd), terminal_width(fd));
  std::string pending, error;
  for (;;) {
    std::optional<std::string> piece = BERTH_TRY(c.next_chunk());
    if (!piece) break;
    pending += *piece;
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string text = display.feed(std::string_view(pending).substr(0, nl), &error);
      pending.erase(0, nl + 1);
      if (!error.empty()) return Error(Code::kSystem, error);
      if (!quiet) BERTH_TRY_VOID(write_all(fd, text));
    }
  }
  return ok();
}

// Starts `path` with the registry credentials of `image` and shows its
// progress stream.
Result<void> registry_stream(Client& c, const std::string& path, const std::string& image, int fd, bool quiet) {
  ipc::Headers headers = BERTH_TRY(auth_headers(image));
  Response head = BERTH_TRY(c.start_stream("POST", path, {}, headers));
  if (head.status >= 400) return stream_error(c, head);
  return show_progress(c, fd, quiet);
}

int pull(const Globals& g, const std::string& ref, const std::string& platform, bool quiet) {
  auto [name, tag] = split_reference(ref);
  if (tag.empty()) {
    tag = "latest";
    if (!quiet) out("Using default tag: latest\n");
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  if (Result<void> r = pull_image(*c, name + (tag.starts_with("sha256:") ? "@" : ":") + tag, platform, STDOUT_FILENO,
                                  quiet);
      !r)
    return fail(r.error());
  out(canonical(name, tag) + "\n");
  return kExitOk;
}

int push(const Globals& g, const std::string& ref, bool all_tags, bool quiet) {
  auto [name, tag] = split_reference(ref);
  if (tag.starts_with("sha256:")) return fail(Error::invalid("cannot push a digest reference: {}", ref));
  if (all_tags && !tag.empty()) return fail(Error::invalid("tag can't be used with --all-tags/-a"));
  if (!all_tags && tag.empty()) {
    tag = "latest";
    if (!quiet) out("Using default tag: latest\n");
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::string path = "/images/" + ipc::path_escape(name) + "/push";
  if (!tag.empty()) path += "?tag=" + ipc::url_encode(tag);
  if (Result<void> r = registry_stream(*c, path, name, STDOUT_FILENO, quiet); !r) return fail(r.error());
  return kExitOk;
}

// Reads a line from the terminal on stdin; without echo for a password.
Result<std::string> prompt(std::string_view label, bool secret) {
  out(label);
  termios saved{};
  bool restore = secret && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  char ch;
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, &ch, 1)) == 1 && ch != '\n') line += ch;
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    out("\n");
  }
  if (n < 0) return Error::sys(errno, "read {}", label);
  while (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

struct LoginFlags {
  std::string server, username, password;
  bool password_stdin = false;
};

// The username and password, from the flags, stdin or the terminal.
Result<StoredAuth> login_credentials(const LoginFlags& f) {
  StoredAuth a{f.username, f.password, ""};
  if (f.password_stdin) {
    if (!f.password.empty()) return Error::invalid("--password and --password-stdin are mutually exclusive");
    if (f.username.empty()) return Error::invalid("Must provide --username with --password-stdin");
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) all.append(buf, size_t(n));
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    a.password = std::move(all);
  }
  if (a.username.empty() || a.password.empty()) {
    if (!is_terminal(STDIN_FILENO)) return Error::invalid("Error: Cannot perform an interactive login from a non TTY device");
    if (a.username.empty()) a.username = BERTH_TRY(prompt("Username: ", false));
    if (a.password.empty()) a.password = BERTH_TRY(prompt("Password: ", true));
  }
  if (a.username.empty()) return Error::invalid("Error: Non-null Username Required");
  if (a.password.empty()) return Error::invalid("Error: Password Required");
  return a;
}

int login(const Globals& g, const LoginFlags& f) {
  if (!f.password.empty()) err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  Result<StoredAuth> a = login_credentials(f);
  if (!a) return fail(a.error());
  std::string key = auth_key(f.server);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  json body = {{"username", a->username}, {"password", a->password}, {"serveraddress", key}};
  Result<json> r = call_json(*c, "POST", "/auth", dump(body));
  if (!r) return fail(r.error());
  if (std::string token = jstr(*r, "IdentityToken"); !token.empty()) {
    a->identity_token = token;  // the registry's token stands for the password
    a->password.clear();
  }
  bool existed = false;
  std::string path = auth_file_path();
  if (Result<void> s = store_auth(path, key, *a, &existed); !s)
    return fail(std::move(s.error()).context("save the credentials in {}", path));
  std::string status = jstr(*r, "Status");
  out((status.empty() ? "Login Succeeded" : status) + "\n");
  return kExitOk;
}

int logout(const std::string& server) {
  std::string key = auth_key(server);
  bool existed = false;
  std::string path = auth_file_path();
  if (Result<void> s = store_auth(path, key, {}, &existed); !s) return fail(s.error());
  out(existed ? "Removing login credentials for " + key + "\n" : "Not logged in to " + key + "\n");
  return kExitOk;
}

}  // namespace

Result<void> pull_image(Client& c, const std::string& ref, const std::string& platform, int progress_fd, bool quiet) {
  auto [name, tag] = split_reference(ref);
  std::string path = "/images/create?fromImage=" + ipc::url_encode(name) + "&tag=" + ipc::url_encode(tag.empty() ? "latest" : tag);
  if (!platform.empty()) path += "&platform=" + ipc::url_encode(platform);
  return registry_stream(c, path, name, progress_fd, quiet);
}

void add_registry_commands(CLI::App& app, Globals& g, int& exit_code) {
  struct PullFlags {
    std::string ref, platform;
    bool quiet = false;
  };
  auto pf = std::make_shared<PullFlags>();
  CLI::App* pull_cmd = app.add_subcommand("pull", "Download an image from a registry");
  pull_cmd->add_option("--platform", pf->platform, "Pull this platform of a multi-platform image (os/arch[/variant])");
  pull_cmd->add_flag("-q,--quiet", pf->quiet, "Suppress verbose output");
  pull_cmd->add_option("NAME", pf->ref, "Image: NAME[:TAG|@DIGEST]")->required();
  pull_cmd->callback([&g, &exit_code, pf] { exit_code = pull(g, pf->ref, pf->platform, pf->quiet); });

  struct PushFlags {
    std::string ref;
    bool all = false, quiet = false;
  };
  auto sf = std::make_shared<PushFlags>();
  CLI::App* push_cmd = app.add_subcommand("push", "Upload an image to a registry");
  push_cmd->add_flag("-a,--all-tags", sf->all, "Push all local tags of the repository");
  push_cmd->add_flag("-q,--quiet", sf->quiet, "Suppress verbose output");
  push_cmd->add_option("NAME", sf->ref, "Image: NAME[:TAG]")->required();
  push_cmd->callback([&g, &exit_code, sf] { exit_code = push(g, sf->ref, sf->all, sf->quiet); });

  auto lf = std::make_shared<LoginFlags>();
  CLI::App* login_cmd = app.add_subcommand("login", "Log in to a registry (default: Docker Hub)");
  login_cmd->add_option("-u,--username", lf->username, "Username");
  login_cmd->add_option("-p,--password", lf->password, "Password");
  login_cmd->add_flag("--password-stdin", lf->password_stdin, "Take the password from stdin");
  login_cmd->add_option("SERVER", lf->server, "Registry: host[:port]");
  login_cmd->callback([&g, &exit_code, lf] { exit_code = login(g, *lf); });

  auto server = std::make_shared<std::string>();
  CLI::App* logout_cmd = app.add_subcommand("logout", "Log out from a registry (forget its saved credentials)");
  logout_cmd->add_option("SERVER", *server, "Registry: host[:port]");
  logout_cmd->callback([&exit_code, server] { exit_code = logout(*server); });
}

}  // namespace berth::ctl
