// Image commands: `import` (the way to get an image without a registry),
// `images`, `tag`, `rmi`, `history`, `save`, `load`, `image prune`, plus
// `container prune` and `system df`, with the docker CLI's requests and
// output:
//   tag SRC DST          → POST /images/SRC/tag?repo=NAME&tag=TAG
//   rmi [-f] IMG...      → DELETE /images/IMG?force=1, one per image
//   history IMG          → GET /images/IMG/history
//   save [-o F] IMG...   → GET /images/get?names=IMG&names=… (never to a terminal)
//   load [-i F] [-q]     → POST /images/load?quiet=1 with the tar as the body
//   image prune [-a]     → POST /images/prune?filters={"dangling":["false"]}
//   container prune      → POST /containers/prune
//   system df            → GET /system/df
//
// import: POST /images/create?fromSrc=-&repo=NAME:TAG with the tar as a
// chunked body; the answer is a JSON-lines progress stream whose last
// status is "sha256:<id>". As the docker CLI does without a terminal, each
// status line is printed and an {"error"…} line fails the command.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

struct ImportOptions {
  std::string source;  // a file, or "-" for stdin
  std::string repo;    // NAME[:TAG], sent as is (not normalised), like the CLI
  std::string message;
  std::vector<std::string> changes;
};

// Prints a JSON-lines progress stream; the first error line fails.
int print_progress(std::string_view body) {
  for (const std::string& line : split(body, '\n')) {
    json j = parse_json(line);
    if (!j.is_object()) continue;
    const json& detail = jget(j, "errorDetail");
    if (detail.is_object() || j.contains("error")) {
      std::string msg = jstr(detail, "message");
      return fail(Error(Code::kSystem, msg.empty() ? jstr(j, "error") : msg));
    }
    if (std::string stream = jstr(j, "stream"); !stream.empty()) {
      out(stream);
      continue;
    }
    const json& progress = jget(j, "progressDetail");
    if (progress.is_object() && !progress.empty()) continue;  // bars are for terminals
    std::string status = jstr(j, "status");
    if (status.empty()) continue;
    std::string id = jstr(j, "id");
    out(id.empty() ? status + "\n" : id + ": " + status + "\n");
  }
  return kExitOk;
}

std::string import_path(const ImportOptions& o) {
  // Keys in Go's url.Values order (sorted).
  std::string q;
  for (const std::string& c : o.changes) q += "changes=" + ipc::url_encode(c) + "&";
  q += "fromSrc=-";
  if (!o.message.empty()) q += "&message=" + ipc::url_encode(o.message);
  if (!o.repo.empty()) q += "&repo=" + ipc::url_encode(o.repo);
  return "/images/create?" + q;
}

int import_image(const Globals& g, const ImportOptions& o) {
  if (o.source.find("://") != std::string::npos)
    return fail(Error(Code::kNotSupported, "import from a URL is not supported; download the file first"));
  unique_fd file;
  int fd = STDIN_FILENO;
  if (o.source != "-") {
    Result<unique_fd> f = open_fd(o.source, O_RDONLY);
    if (!f) return fail(f.error());
    file = std::move(*f);
    fd = file.get();
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<Response> r = c->upload("POST", import_path(o), fd, "application/x-tar");
  if (!r) return fail(r.error());
  if (r->status >= 400) return fail(ipc::daemon_error(*r));
  return print_progress(r->body);
}

// "name:tag" → {"name", "tag"}; the colon of a registry port is not a tag.
std::pair<std::string, std::string> split_repo_tag(const std::string& ref) {
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, "<none>"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

// The digest of `repo` among an image's RepoDigests ("repo@sha256:…"), as
// `docker images --digests` shows it.
std::string repo_digest(const json& img, const std::string& repo) {
  const json& digests = jget(img, "RepoDigests");
  if (digests.is_array())
    for (const json& d : digests)
      if (d.is_string()) {
        std::string s = d.get<std::string>();
        size_t at = s.find('@');
        if (at != std::string::npos && s.substr(0, at) == repo) return s.substr(at + 1);
      }
  return "<none>";
}

int list_images(const Globals& g, bool quiet, bool digests) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> list = call_json(*c, "GET", "/images/json");
  if (!list) return fail(list.error());
  if (!list->is_array()) return fail(Error::invalid("images: expected a JSON array from the daemon"));
  // The daemon's order (dockerd: newest first); one row per tag, and -q
  // prints one ID per row, duplicates included, as the docker CLI does.
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  if (digests) rows[0].insert(rows[0].begin() + 2, "DIGEST");
  for (const json& img : *list) {
    std::vector<std::string> tags;
    const json& repo_tags = jget(img, "RepoTags");
    if (repo_tags.is_array())
      for (const json& t : repo_tags)
        if (t.is_string() && t.get<std::string>() != "<none>:<none>") tags.push_back(t.get<std::string>());
    if (tags.empty()) tags.push_back("<none>:<none>");
    for (const std::string& t : tags) {
      auto [repo, tag] = t == "<none>:<none>" ? std::pair<std::string, std::string>("<none>", "<none>") : split_repo_tag(t);
      rows.push_back({repo, tag, short_id(jstr(img, "Id")), ago(jint(img, "Created")), human_size(jint(img, "Size"))});
      if (digests) rows.back().insert(rows.back().begin() + 2, repo_digest(img, repo));
    }
  }
  if (quiet) {
    std::string ids;
    for (size_t i = 1; i < rows.size(); i++) ids += rows[i][digests ? 3 : 2] + "\n";
    out(ids);
    return kExitOk;
  }
  print_table(rows);
  return kExitOk;
}

// "name:tag" → {"name", "tag"}; "" tag when none was given.
std::pair<std::string, std::string> split_tag(const std::string& ref) {
  auto [repo, tag] = split_repo_tag(ref);
  return {repo, tag == "<none>" ? std::string() : tag};
}

int tag_image(const Globals& g, const std::string& source, const std::string& target) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  auto [repo, tag] = split_tag(target);
  std::string path = "/images/" + ipc::path_escape(source) + "/tag?repo=" + ipc::url_encode(repo);
  if (!tag.empty()) path += "&tag=" + ipc::url_encode(tag);
  if (auto r = call(*c, "POST", path); !r) return fail(r.error());
  return kExitOk;
}

int remove_images(const Globals& g, const std::vector<std::string>& names, bool force) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::vector<Error> errors;
  for (const std::string& name : names) {
    Result<json> j = call_json(*c, "DELETE", "/images/" + ipc::path_escape(name) + (force ? "?force=1" : ""));
    if (!j) {
      errors.push_back(j.error());
      continue;
    }
    std::string text;
    if (j->is_array())
      for (const json& item : *j) {
        if (std::string u = jstr(item, "Untagged"); !u.empty()) text += "Untagged: " + u + "\n";
        if (std::string d = jstr(item, "Deleted"); !d.empty()) text += "Deleted: " + d + "\n";
      }
    out(text);
  }
  for (const Error& e : errors) fail(e);
  return errors.empty() ? kExitOk : kExitError;
}

int history(const Globals& g, const std::string& name, bool no_trunc, bool quiet) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "GET", "/images/" + ipc::path_escape(name) + "/history");
  if (!j) return fail(j.error());
  if (!j->is_array()) return fail(Error::invalid("history: expected a JSON array from the daemon"));
  std::vector<std::vector<std::string>> rows = {{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
  std::string ids;
  for (const json& h : *j) {
    std::string id = jstr(h, "Id");
    if (id != "<missing>" && !no_trunc) id = short_id(id);
    ids += id + "\n";
    std::string by = jstr(h, "CreatedBy");
    if (!no_trunc) by = ellipsis(by, 45);
    rows.push_back({id, ago(jint(h, "Created")), by, human_size(double(jint(h, "Size"))), jstr(h, "Comment")});
  }
  if (quiet) {
    out(ids);
    return kExitOk;
  }
  print_table(rows);
  return kExitOk;
}

int save(const Globals& g, const std::vector<std::string>& names, const std::string& output) {
  if (output.empty() && ::isatty(STDOUT_FILENO))
    return fail(Error::invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
  unique_fd file;
  if (!output.empty()) {
    Result<unique_fd> f = open_fd(output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!f) return fail(f.error());
    file = std::move(*f);
  }
  int fd = output.empty() ? STDOUT_FILENO : file.get();
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::string q;
  for (const std::string& n : names) q += (q.empty() ? "?names=" : "&names=") + ipc::url_encode(n);
  Result<Response> head = c->start_stream("GET", "/images/get" + q);
  if (!head) return fail(head.error());
  if (head->status >= 400) return fail(stream_error(*c, *head));
  for (;;) {
    Result<std::optional<std::string>> piece = c->next_chunk();
    if (!piece) return fail(std::move(piece.error()).context("save"));
    if (!*piece) break;
    if (auto w = write_all(fd, **piece); !w) return fail(std::move(w.error()).context("write saved images"));
  }
  return kExitOk;
}

int load(const Globals& g, const std::string& input, bool quiet) {
  unique_fd file;
  int fd = STDIN_FILENO;
  if (!input.empty()) {
    Result<unique_fd> f = open_fd(input, O_RDONLY);
    if (!f) return fail(f.error());
    file = std::move(*f);
    fd = file.get();
  } else if (::isatty(STDIN_FILENO)) {
    return fail(Error::invalid("requested load from stdin, but stdin is empty"));
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  (void)quiet;  // no progress bars without a terminal: the answer is the same
  Result<Response> r = c->upload("POST", "/images/load?quiet=1", fd, "application/x-tar");
  if (!r) return fail(r.error());
  if (r->status >= 400) return fail(ipc::daemon_error(*r));
  return print_progress(r->body);
}

// The docker CLI's y/N prompt: anything but "y"/"Y" (or no input) declines.
bool confirm(const std::string& warning) {
  out(warning + "\nAre you sure you want to continue? [y/N] ");
  char buf[64];
  ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
  return n > 0 && (buf[0] == 'y' || buf[0] == 'Y');
}

// --filter k=v values as the API's filters JSON.
std::string filters_query(const std::vector<std::string>& filters, const std::map<std::string, std::string>& extra) {
  json f = json::object();
  for (const auto& [k, v] : extra) f[k][v] = true;
  for (const std::string& kv : filters) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    f[kv.substr(0, eq)][kv.substr(eq + 1)] = true;
  }
  return f.empty() ? "" : "?filters=" + ipc::url_encode(f.dump());
}

int prune_images(const Globals& g, bool all, bool force, const std::vector<std::string>& filters) {
  if (!force && !confirm(all ? "WARNING! This will remove all images without at least one container associated to them."
                             : "WARNING! This will remove all dangling images.")) {
    return kExitOk;
  }
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::map<std::string, std::string> extra;
  if (all) extra["dangling"] = "false";
  Result<json> j = call_json(*c, "POST", "/images/prune" + filters_query(filters, extra));
  if (!j) return fail(j.error());
  std::string text;
  if (const json& del = jget(*j, "ImagesDeleted"); del.is_array() && !del.empty()) {
    text = "Deleted Images:\n";
    for (const json& item : del) {
      if (std::string u = jstr(item, "Untagged"); !u.empty()) text += "untagged: " + u + "\n";
      if (std::string d = jstr(item, "Deleted"); !d.empty()) text += "deleted: " + d + "\n";
    }
    text += "\n";
  }
  out(text + "Total reclaimed space: " + human_size(double(jint(*j, "SpaceReclaimed"))) + "\n");
  return kExitOk;
}

int prune_containers(const Globals& g, bool force, const std::vector<std::string>& filters) {
  if (!force && !confirm("WARNING! This will remove all stopped containers.")) return kExitOk;
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "POST", "/containers/prune" + filters_query(filters, {}));
  if (!j) return fail(j.error());
  std::string text;
  if (const json& del = jget(*j, "ContainersDeleted"); del.is_array() && !del.empty()) {
    text = "Deleted Containers:\n";
    for (const json& id : del)
      if (id.is_string()) text += id.get<std::string>() + "\n";
    text += "\n";
  }
  out(text + "Total reclaimed space: " + human_size(double(jint(*j, "SpaceReclaimed"))) + "\n");
  return kExitOk;
}

// "1.2MB (50%)" as the docker CLI's df shows reclaimable space.
std::string reclaimable(int64_t part, int64_t total) {
  std::string s = human_size(double(part));
  if (total > 0) s += fmt::format(" ({}%)", part * 100 / total);
  return s;
}

int system_df(const Globals& g) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> j = call_json(*c, "GET", "/system/df");
  if (!j) return fail(j.error());
  auto each = [&](const char* key, auto fn) {
    if (const json& arr = jget(*j, key); arr.is_array())
      for (const json& x : arr) fn(x);
  };
  int64_t images = 0, images_active = 0, images_unused_bytes = 0;
  each("Images", [&](const json& i) {
    images++;
    if (jint(i, "Containers") > 0) images_active++;
    else images_unused_bytes += jint(i, "Size");
  });
  int64_t layers = jint(*j, "LayersSize");
  int64_t ctrs = 0, ctrs_active = 0, ctrs_bytes = 0, ctrs_idle_bytes = 0;
  each("Containers", [&](const json& x) {
    ctrs++;
    ctrs_bytes += jint(x, "SizeRw");
    if (jstr(x, "State") == "running") ctrs_active++;
    else ctrs_idle_bytes += jint(x, "SizeRw");
  });
  int64_t vols = 0, vols_active = 0, vols_bytes = 0, vols_idle_bytes = 0;
  each("Volumes", [&](const json& v) {
    vols++;
    const json& u = jget(v, "UsageData");
    int64_t size = std::max<int64_t>(0, jint(u, "Size"));
    vols_bytes += size;
    if (jint(u, "RefCount") > 0) vols_active++;
    else vols_idle_bytes += size;
  });
  print_table({{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
               {"Images", std::to_string(images), std::to_string(images_active), human_size(double(layers)),
                reclaimable(std::min(images_unused_bytes, layers), layers)},
               {"Containers", std::to_string(ctrs), std::to_string(ctrs_active), human_size(double(ctrs_bytes)),
                reclaimable(ctrs_idle_bytes, ctrs_bytes)},
               {"Local Volumes", std::to_string(vols), std::to_string(vols_active), human_size(double(vols_bytes)),
                reclaimable(vols_idle_bytes, vols_bytes)},
               {"Build Cache", "0", "0", "0B", "0B"}});
  return kExitOk;
}

void add_image_management(CLI::App& app, Globals& g, int& exit_code) {
  auto tag_args = std::make_shared<std::vector<std::string>>();
  CLI::App* tag_cmd = app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
  tag_cmd->add_option("SOURCE TARGET", *tag_args)->required()->expected(2);
  tag_cmd->callback([&g, &exit_code, tag_args] { exit_code = tag_image(g, (*tag_args)[0], (*tag_args)[1]); });

  auto rmi_force = std::make_shared<bool>(false);
  auto rmi_names = std::make_shared<std::vector<std::string>>();
  CLI::App* rmi = app.add_subcommand("rmi", "Remove one or more images");
  rmi->add_flag("-f,--force", *rmi_force, "Force removal of the image");
  auto rmi_no_prune = std::make_shared<bool>(false);  // berth keeps no parent chains to prune
  rmi->add_flag("--no-prune", *rmi_no_prune, "Do not delete untagged parents");
  rmi->add_option("IMAGE", *rmi_names)->required();
  rmi->callback([&g, &exit_code, rmi_force, rmi_names] { exit_code = remove_images(g, *rmi_names, *rmi_force); });

  auto h_name = std::make_shared<std::string>();
  auto h_no_trunc = std::make_shared<bool>(false);
  auto h_quiet = std::make_shared<bool>(false);
  CLI::App* hist = app.add_subcommand("history", "Show the history of an image");
  hist->add_flag("--no-trunc", *h_no_trunc, "Don't truncate output");
  hist->add_flag("-q,--quiet", *h_quiet, "Only show image IDs");
  hist->add_option("IMAGE", *h_name)->required();
  hist->callback([&g, &exit_code, h_name, h_no_trunc, h_quiet] {
    exit_code = history(g, *h_name, *h_no_trunc, *h_quiet);
  });

  auto save_out = std::make_shared<std::string>();
  auto save_names = std::make_shared<std::vector<std::string>>();
  CLI::App* save_cmd = app.add_subcommand("save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
  save_cmd->add_option("-o,--output", *save_out, "Write to a file, instead of STDOUT");
  save_cmd->add_option("IMAGE", *save_names)->required();
  save_cmd->callback([&g, &exit_code, save_out, save_names] { exit_code = save(g, *save_names, *save_out); });

  auto load_in = std::make_shared<std::string>();
  auto load_quiet = std::make_shared<bool>(false);
  CLI::App* load_cmd = app.add_subcommand("load", "Load an image from a tar archive or STDIN");
  load_cmd->add_option("-i,--input", *load_in, "Read from tar archive file, instead of STDIN");
  load_cmd->add_flag("-q,--quiet", *load_quiet, "Suppress the load output");
  load_cmd->callback([&g, &exit_code, load_in, load_quiet] { exit_code = load(g, *load_in, *load_quiet); });

  CLI::App* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);
  auto ip_all = std::make_shared<bool>(false);
  auto ip_force = std::make_shared<bool>(false);
  auto ip_filters = std::make_shared<std::vector<std::string>>();
  CLI::App* iprune = image->add_subcommand("prune", "Remove unused images");
  iprune->add_flag("-a,--all", *ip_all, "Remove all unused images, not just dangling ones");
  iprune->add_flag("-f,--force", *ip_force, "Do not prompt for confirmation");
  iprune->add_option("--filter", *ip_filters, "Provide filter values (e.g. \"until=<timestamp>\")")->allow_extra_args(false);
  iprune->callback([&g, &exit_code, ip_all, ip_force, ip_filters] {
    exit_code = prune_images(g, *ip_all, *ip_force, *ip_filters);
  });

  CLI::App* container = app.add_subcommand("container", "Manage containers");
  container->require_subcommand(1);
  auto cp_force = std::make_shared<bool>(false);
  auto cp_filters = std::make_shared<std::vector<std::string>>();
  CLI::App* cprune = container->add_subcommand("prune", "Remove all stopped containers");
  cprune->add_flag("-f,--force", *cp_force, "Do not prompt for confirmation");
  cprune->add_option("--filter", *cp_filters, "Provide filter values (e.g. \"until=<timestamp>\")")->allow_extra_args(false);
  cprune->callback([&g, &exit_code, cp_force, cp_filters] { exit_code = prune_containers(g, *cp_force, *cp_filters); });

  CLI::App* system = app.add_subcommand("system", "Manage berth");
  system->require_subcommand(1);
  CLI::App* df = system->add_subcommand("df", "Show docker disk usage");
  df->callback([&g, &exit_code] { exit_code = system_df(g); });
}

}  // namespace

void add_image_commands(CLI::App& app, Globals& g, int& exit_code) {
  add_image_management(app, g, exit_code);
  auto imp = std::make_shared<ImportOptions>();
  CLI::App* import_cmd = app.add_subcommand("import", "Import the contents from a tarball to create a filesystem image");
  import_cmd->add_option("-c,--change", imp->changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  import_cmd->add_option("-m,--message", imp->message, "Set commit message for imported image");
  import_cmd->add_option("FILE", imp->source, "Tar file, or - for stdin")->required();
  import_cmd->add_option("REPOSITORY", imp->repo, "NAME[:TAG] for the new image");
  import_cmd->callback([&g, &exit_code, imp] { exit_code = import_image(g, *imp); });

  auto quiet = std::make_shared<bool>(false);
  auto digests = std::make_shared<bool>(false);
  CLI::App* images = app.add_subcommand("images", "List images");
  images->add_flag("-q,--quiet", *quiet, "Only show image IDs");
  images->add_flag("--digests", *digests, "Show digests");
  images->callback([&g, &exit_code, quiet, digests] { exit_code = list_images(g, *quiet, *digests); });
}

}  // namespace berth::ctl
