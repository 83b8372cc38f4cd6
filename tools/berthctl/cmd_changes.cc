// A container's filesystem: `diff` (GET /containers/{id}/changes, printed
// as "C /etc" lines in the daemon's order), `commit` (POST /commit; prints
// the new image ID) and `export` (GET /containers/{id}/export, the tar
// copied to -o FILE or stdout as it arrives; like the docker CLI, refused
// when stdout is a terminal, and written to a temp file renamed into place
// so a failed export leaves no partial FILE).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include <fmt/format.h>

#include "core/base/file.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

namespace berth::ctl {
namespace {

int diff(const Globals& g, const std::string& id) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> list = call_json(*c, "GET", container_path(id, "/changes"));
  if (!list) return fail(list.error());
  std::string text;
  if (list->is_array()) {
    for (const json& ch : *list) {
      int64_t kind = jint(ch, "Kind", -1);
      const char* letter = kind == 0 ? "C" : kind == 1 ? "A" : kind == 2 ? "D" : "?";
      text += fmt::format("{} {}\n", letter, jstr(ch, "Path"));
    }
  }
  out(text);
  return kExitOk;
}

// Go's strconv.ParseBool, as pflag reads "-p=false".
std::optional<bool> parse_go_bool(std::string_view v) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"})
    if (v == t) return true;
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"})
    if (v == f) return false;
  return std::nullopt;
}

struct CommitOptions {
  std::string container, reference;
  std::string message, author;
  std::vector<std::string> changes;
  bool pause = true;
};

// "name:tag" → {"name", "tag"}; the colon of a registry port is not a tag.
std::pair<std::string, std::string> split_reference(const std::string& ref) {
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {ref, ""};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

int commit(const Globals& g, const CommitOptions& o) {
  if (o.reference.find('@') != std::string::npos)
    return fail(Error::invalid("refusing to create a tag with a digest reference"));
  auto [repo, tag] = split_reference(o.reference);
  // Keys in Go's url.Values order (sorted), as the docker CLI sends them.
  std::string q = "author=" + ipc::url_encode(o.author);
  for (const std::string& ch : o.changes) q += "&changes=" + ipc::url_encode(ch);
  q += "&comment=" + ipc::url_encode(o.message);
  q += "&container=" + ipc::url_encode(o.container);
  q += std::string("&pause=") + (o.pause ? "1" : "0");
  q += "&repo=" + ipc::url_encode(repo) + "&tag=" + ipc::url_encode(tag);
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<json> r = call_json(*c, "POST", "/commit?" + q);
  if (!r) return fail(r.error());
  out(jstr(*r, "Id") + "\n");
  return kExitOk;
}

// A temp file beside `path`, renamed over it by commit(), removed otherwise.
class OutputFile {
 public:
  ~OutputFile() {
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }
  Result<void> create(const std::string& path) {
    path_ = path;
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmpl = (slash == std::string::npos ? "" : dir) + "." + base + ".XXXXXX";
    int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return Error::sys(errno, "create a temp file for {}", path);
    temp_ = tmpl;
    fd_.reset(fd);
    return ok();
  }
  int fd() const { return fd_.get(); }
  Result<void> commit() {
    if (::fchmod(fd_.get(), 0644) < 0) return Error::sys(errno, "chmod {}", temp_);
    fd_.reset();
    if (::rename(temp_.c_str(), path_.c_str()) < 0) return Error::sys(errno, "rename {} to {}", temp_, path_);
    temp_.clear();
    return ok();
  }

 private:
  std::string path_, temp_;
  unique_fd fd_;
};

int export_container(const Globals& g, const std::string& id, const std::string& output) {
  if (output.empty() && ::isatty(STDOUT_FILENO))
    return fail(Error::invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
  OutputFile file;
  if (!output.empty())
    if (auto r = file.create(output); !r) return fail(r.error());
  int fd = output.empty() ? STDOUT_FILENO : file.fd();
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<Response> head = c->start_stream("GET", container_path(id, "/export"));
  if (!head) return fail(head.error());
  if (head->status >= 400) return fail(stream_error(*c, *head));
  for (;;) {
    Result<std::optional<std::string>> piece = c->next_chunk();
    if (!piece) return fail(std::move(piece.error()).context("export {}", id));
    if (!*piece) break;
    if (auto w = write_all(fd, **piece); !w) return fail(std::move(w.error()).context("write export of {}", id));
  }
  if (!output.empty())
    if (auto r = file.commit(); !r) return fail(r.error());
  return kExitOk;
}

}  // namespace

void add_changes_commands(CLI::App& app, Globals& g, int& exit_code) {
  auto diff_id = std::make_shared<std::string>();
  CLI::App* diff_cmd = app.add_subcommand("diff", "Inspect changes to files or directories on a container's filesystem");
  diff_cmd->add_option("CONTAINER", *diff_id)->required();
  diff_cmd->callback([&g, &exit_code, diff_id] { exit_code = diff(g, *diff_id); });

  auto co = std::make_shared<CommitOptions>();
  CLI::App* commit_cmd = app.add_subcommand("commit", "Create a new image from a container's changes");
  commit_cmd->add_option("-m,--message", co->message, "Commit message");
  commit_cmd->add_option("-a,--author", co->author, "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
  commit_cmd->add_option("-c,--change", co->changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  commit_cmd->add_flag("-p,--pause", co->pause, "Pause container during commit (default true; -p=false, --pause=false)");
  commit_cmd->add_option("CONTAINER", co->container)->required();
  commit_cmd->add_option("REPOSITORY", co->reference, "REPOSITORY[:TAG] for the new image");
  // CLI11 reads docker's "-p=false" as the flag -p followed by an unknown
  // "-=false": take that one back here, refuse anything else unknown.
  commit_cmd->allow_extras();
  commit_cmd->callback([&g, &exit_code, co, commit_cmd] {
    for (const std::string& extra : commit_cmd->remaining()) {
      std::optional<bool> v = extra.starts_with("-=") ? parse_go_bool(extra.substr(2)) : std::nullopt;
      if (!v) {
        exit_code = fail(Error::invalid("unknown flag or argument: {}", extra), kExitRunFailure);
        return;
      }
      co->pause = *v;
    }
    exit_code = commit(g, *co);
  });

  auto ex_id = std::make_shared<std::string>();
  auto ex_out = std::make_shared<std::string>();
  CLI::App* export_cmd = app.add_subcommand("export", "Export a container's filesystem as a tar archive");
  export_cmd->add_option("-o,--output", *ex_out, "Write to a file, instead of STDOUT");
  export_cmd->add_option("CONTAINER", *ex_id)->required();
  export_cmd->callback([&g, &exit_code, ex_id, ex_out] { exit_code = export_container(g, *ex_id, *ex_out); });
}

}  // namespace berth::ctl
