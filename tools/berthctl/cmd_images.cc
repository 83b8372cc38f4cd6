// Image commands: `import` (the way to get an image without a registry) and
// `images`.
//
// import: POST /images/create?fromSrc=-&repo=NAME:TAG with the tar as a
// chunked body; the answer is a JSON-lines progress stream whose last
// status is "sha256:<id>". As the docker CLI does without a terminal, each
// status line is printed and an {"error"…} line fails the command.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

int list_images(const Globals& g, bool quiet) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> list = call_json(*c, "GET", "/images/json");
  if (!list) return fail(list.error());
  if (!list->is_array()) return fail(Error::invalid("images: expected a JSON array from the daemon"));
  // The daemon's order (dockerd: newest first); one row per tag, and -q
  // prints one ID per row, duplicates included, as the docker CLI does.
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
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
    }
  }
  if (quiet) {
    std::string ids;
    for (size_t i = 1; i < rows.size(); i++) ids += rows[i][2] + "\n";
    out(ids);
    return kExitOk;
  }
  print_table(rows);
  return kExitOk;
}

}  // namespace

void add_image_commands(CLI::App& app, Globals& g, int& exit_code) {
  auto imp = std::make_shared<ImportOptions>();
  CLI::App* import_cmd = app.add_subcommand("import", "Import the contents from a tarball to create a filesystem image");
  import_cmd->add_option("-c,--change", imp->changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  import_cmd->add_option("-m,--message", imp->message, "Set commit message for imported image");
  import_cmd->add_option("FILE", imp->source, "Tar file, or - for stdin")->required();
  import_cmd->add_option("REPOSITORY", imp->repo, "NAME[:TAG] for the new image");
  import_cmd->callback([&g, &exit_code, imp] { exit_code = import_image(g, *imp); });

  auto quiet = std::make_shared<bool>(false);
  CLI::App* images = app.add_subcommand("images", "List images");
  images->add_flag("-q,--quiet", *quiet, "Only show image IDs");
  images->callback([&g, &exit_code, quiet] { exit_code = list_images(g, *quiet); });
}

}  // namespace berth::ctl
