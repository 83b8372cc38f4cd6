// `cp [-a] [-L] SRC DST`, one side CONTAINER:PATH, as the docker CLI does
// it: HEAD /containers/{id}/archive for the stat of the container side (its
// X-Docker-Container-Path-Stat header), then GET (out) or PUT (in) a tar.
// `-` on the local side is a tar on stdout (out) or stdin (in), passed
// through unchanged. Like docker, a destination that exists as a directory
// receives the source under its own name; otherwise the source is written
// as the destination (the tar's top entry renamed), into its parent.
//
// Local tars are made and unpacked with libarchive: archive_read_disk (no
// symlink followed) and archive_write_disk with its SECURE_* flags, so a tar
// from a container cannot write outside the local destination.
//
// Only berthctl-cp links libarchive (BERTHCTL_ARCHIVE): berthctl itself is
// static, since it runs once per command and the dynamic loader was a fifth
// of a `run --rm`'s client time, and libarchive brings 14 shared libraries.
// Its `cp` execs berthctl-cp, from its own directory, with the same
// arguments.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "core/base/file.h"
#include "core/base/unique_fd.h"
#include "ipc/proto/path_stat.h"
#include "ipc/proto/url.h"
#include "tools/berthctl/berthctl.h"

#if BERTHCTL_ARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif

namespace berth::ctl {
namespace {

struct CpOptions {
  std::string src, dst;
  bool archive_mode = false;  // -a: keep uid/gid
  bool follow = false;        // -L: follow a symlink source
};

#if BERTHCTL_ARCHIVE

struct ArchiveFree {
  void operator()(archive* a) const { archive_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// "ctr:/path" -> {"ctr", "/path"}; a local path (no colon before any slash,
// or one starting with "/" or ".") -> {"", path}.
std::pair<std::string, std::string> split_arg(const std::string& arg) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return {"", arg};
  size_t colon = arg.find(':');
  size_t slash = arg.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon)) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

std::string dir_of(const std::string& p) {
  size_t slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}
std::string base_of(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}
bool is_contents(const std::string& p) { return p == "." || p.ends_with("/."); }

// The top component of `path` replaced by `top` (when not empty).
std::string rebase(const std::string& path, const std::string& from, const std::string& to) {
  if (to.empty() || from == to) return path;
  if (path == from || path == from + "/") return to + path.substr(from.size());
  if (path.starts_with(from + "/")) return to + path.substr(from.size());
  return path;
}

Result<ipc::PathStat> stat_path(Client& c, const std::string& ctr, const std::string& path) {
  std::string url = container_path(ctr, "/archive?path=" + ipc::url_encode(path));
  Result<Response> r = c.request("HEAD", url);
  if (!r) return std::move(r.error());
  if (r->status == 404) return Error::not_found("Could not find the file {} in container {}", path, ctr);
  if (r->status >= 400) return Error::invalid("stat {} in container {}: status {}", path, ctr, r->status);
  return ipc::decode_path_stat(r->header(ipc::kPathStatHeader));
}

Error archive_failure(archive* a, std::string_view verb) {
  const char* why = archive_error_string(a);
  return Error::invalid("{}: {}", verb, why ? why : "unknown error");
}

// Reads a tar from the stream `c` just started, into `dir`, renaming the top
// entry `from` to `to`.
Result<void> extract_stream(Client& c, const std::string& dir, const std::string& from, const std::string& to,
                            bool owners) {
  // The tar goes through a temp file: libarchive reads from an fd.
  char tmpl[] = "/tmp/berthctl-cp-XXXXXX";
  int raw = ::mkostemp(tmpl, O_CLOEXEC);
  if (raw < 0) return Error::sys(errno, "create a temp file");
  unique_fd tmp(raw);
  ::unlink(tmpl);
  for (;;) {
    Result<std::optional<std::string>> piece = c.next_chunk();
    if (!piece) return std::move(piece.error());
    if (!*piece) break;
    BERTH_TRY_VOID(write_all(tmp.get(), **piece));
  }
  ::lseek(tmp.get(), 0, SEEK_SET);
  ArchivePtr in(archive_read_new(), ArchiveFree{});
  archive_read_support_format_tar(in.get());
  if (archive_read_open_fd(in.get(), tmp.get(), 64 << 10) != ARCHIVE_OK) return archive_failure(in.get(), "read tar");
  ArchivePtr out(archive_write_disk_new(), ArchiveFree{});
  int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
  if (owners) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out.get(), flags);
  archive_write_disk_set_standard_lookup(out.get());
  // Relative names below `dir`: a CLI process may change its own directory.
  if (::chdir(dir.c_str()) < 0) return Error::sys(errno, "cd {}", dir);
  archive_entry* e;
  int r;
  while ((r = archive_read_next_header(in.get(), &e)) == ARCHIVE_OK) {
    archive_entry_set_pathname(e, rebase(archive_entry_pathname(e), from, to).c_str());
    if (const char* h = archive_entry_hardlink(e)) archive_entry_set_hardlink(e, rebase(h, from, to).c_str());
    if (archive_write_header(out.get(), e) != ARCHIVE_OK) return archive_failure(out.get(), "extract");
    const void* buf;
    size_t n;
    la_int64_t off;
    while ((r = archive_read_data_block(in.get(), &buf, &n, &off)) == ARCHIVE_OK)
      if (archive_write_data_block(out.get(), buf, n, off) != ARCHIVE_OK) return archive_failure(out.get(), "extract");
    if (r != ARCHIVE_EOF) return archive_failure(in.get(), "read tar");
  }
  if (r != ARCHIVE_EOF) return archive_failure(in.get(), "read tar");
  if (archive_write_close(out.get()) != ARCHIVE_OK) return archive_failure(out.get(), "extract");
  return ok();
}

int copy_out(const Globals& g, const CpOptions& o, const std::string& ctr, std::string path) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  Result<ipc::PathStat> st = stat_path(*c, ctr, path);
  if (!st) return fail(st.error());
  std::string from = st->name, to;
  if (o.follow && st->is_symlink() && !st->link_target.empty()) {
    path = st->link_target;  // asked for again, renamed to the link's name
    from = base_of(path);
    to = st->name;
  }
  std::string url = container_path(ctr, "/archive?path=" + ipc::url_encode(path));
  Result<Response> head = c->start_stream("GET", url);
  if (!head) return fail(head.error());
  if (head->status >= 400) return fail(stream_error(*c, *head));
  if (o.dst == "-") {
    for (;;) {
      Result<std::optional<std::string>> piece = c->next_chunk();
      if (!piece) return fail(piece.error());
      if (!*piece) return kExitOk;
      if (auto w = write_all(STDOUT_FILENO, **piece); !w) return fail(w.error());
    }
  }
  struct stat dst;
  std::string dir = o.dst;
  if (::stat(o.dst.c_str(), &dst) == 0 && S_ISDIR(dst.st_mode)) {
    if (is_contents(path)) to.clear();
  } else if (o.dst.ends_with("/")) {
    return fail(Error::not_found("destination directory {} must exist", o.dst));
  } else if (is_contents(path)) {
    if (::mkdir(o.dst.c_str(), 0755) < 0) return fail(Error::sys(errno, "create {}", o.dst));
  } else {
    dir = dir_of(o.dst);
    to = base_of(o.dst);
  }
  if (auto r = extract_stream(*c, dir, from, to, o.archive_mode); !r)
    return fail(std::move(r.error()).context("copy {}:{} to {}", ctr, path, o.dst));
  return kExitOk;
}

// A tar of local `src` (symlinks not followed) with its top entry named
// `top`, written to `fd`.
Result<void> make_tar(const std::string& src, const std::string& top, int fd) {
  ArchivePtr disk(archive_read_disk_new(), ArchiveFree{});
  archive_read_disk_set_standard_lookup(disk.get());
  archive_read_disk_set_symlink_physical(disk.get());
  if (archive_read_disk_open(disk.get(), src.c_str()) != ARCHIVE_OK) return archive_failure(disk.get(), "read " + src);
  ArchivePtr w(archive_write_new(), ArchiveFree{});
  archive_write_set_format_pax_restricted(w.get());
  if (archive_write_open_fd(w.get(), fd) != ARCHIVE_OK) return archive_failure(w.get(), "write tar");
  for (;;) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    int r = archive_read_next_header2(disk.get(), e.get());
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_failure(disk.get(), "read " + src);
    archive_read_disk_descend(disk.get());
    std::string source = archive_entry_sourcepath(e.get());
    archive_entry_set_pathname(e.get(), rebase(archive_entry_pathname(e.get()), src, top).c_str());
    if (archive_write_header(w.get(), e.get()) != ARCHIVE_OK) return archive_failure(w.get(), "write tar");
    if (archive_entry_filetype(e.get()) != AE_IFREG || archive_entry_size(e.get()) == 0) continue;
    int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return Error::sys(errno, "open {}", source);
    unique_fd infd(in);
    char buf[64 << 10];
    ssize_t n;
    while ((n = ::read(in, buf, sizeof buf)) > 0)
      if (archive_write_data(w.get(), buf, size_t(n)) < 0) return archive_failure(w.get(), "write tar");
    if (n < 0) return Error::sys(errno, "read {}", source);
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK) return archive_failure(w.get(), "write tar");
  return ok();
}

int copy_in(const Globals& g, const CpOptions& o, const std::string& ctr, const std::string& path) {
  Result<Client> c = dial(g);
  if (!c) return fail(c.error());
  std::string query = o.archive_mode ? "&copyUIDGID=1" : "";
  auto put = [&](const std::string& dir, int fd) -> int {
    std::string url = container_path(ctr, "/archive?path=" + ipc::url_encode(dir) + "&noOverwriteDirNonDir=1" + query);
    Result<Response> r = c->upload("PUT", url, fd, "application/x-tar");
    if (!r) return fail(r.error());
    if (r->status >= 400) return fail(ipc::daemon_error(*r));
    return kExitOk;
  };
  if (o.src == "-") return put(path, STDIN_FILENO);
  struct stat src;
  if (::lstat(o.src.c_str(), &src) < 0) return fail(Error::sys(errno, "stat {}", o.src));
  std::string dir = path, top = is_contents(o.src) ? "." : base_of(o.src);
  Result<ipc::PathStat> dst = stat_path(*c, ctr, path);
  if (dst && !dst->is_dir()) {
    if (S_ISDIR(src.st_mode)) return fail(Error::invalid("cannot copy a directory to a file: {}", path));
    dir = dir_of(path);
    top = base_of(path);
  } else if (!dst) {
    if (dst.error().code() != Code::kNotFound || path.ends_with("/")) return fail(dst.error());
    dir = dir_of(path);
    top = base_of(path);
  }
  std::string src_path = is_contents(o.src) ? o.src.substr(0, o.src.size() - 1) : o.src;
  char tmpl[] = "/tmp/berthctl-cp-XXXXXX";
  int raw = ::mkostemp(tmpl, O_CLOEXEC);
  if (raw < 0) return fail(Error::sys(errno, "create a temp file"));
  unique_fd tmp(raw);
  ::unlink(tmpl);
  std::string from = src_path;
  while (from.size() > 1 && from.back() == '/') from.pop_back();
  if (auto r = make_tar(from, top, tmp.get()); !r) return fail(r.error());
  ::lseek(tmp.get(), 0, SEEK_SET);
  return put(dir, tmp.get());
}

int cp(const Globals& g, const CpOptions& o) {
  auto [src_ctr, src_path] = split_arg(o.src);
  auto [dst_ctr, dst_path] = split_arg(o.dst);
  if (src_ctr.empty() == dst_ctr.empty())
    return fail(Error::invalid("must specify exactly one container source or destination: \"{}\" \"{}\"", o.src, o.dst));
  if (!src_ctr.empty()) return copy_out(g, o, src_ctr, src_path.empty() ? "/" : src_path);
  return copy_in(g, o, dst_ctr, dst_path.empty() ? "/" : dst_path);
}

#else

// berthctl: the same arguments to berthctl-cp next to this binary.
int exec_cp_twin(const Globals& g) {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail(Error::sys(errno, "cp: find berthctl-cp: readlink /proc/self/exe"), kExitRunFailure);
  std::string twin(self, size_t(n));
  twin = twin.substr(0, twin.rfind('/') + 1) + "berthctl-cp";
  ::execv(twin.c_str(), g.argv);
  return fail(Error::sys(errno, "cp needs {}", twin), kExitRunFailure);
}

#endif

}  // namespace

void add_cp_command(CLI::App& app, Globals& g, int& exit_code) {
  auto o = std::make_shared<CpOptions>();
  CLI::App* sub = app.add_subcommand("cp", "Copy files between a container and the local filesystem");
  sub->add_flag("-a,--archive", o->archive_mode, "Archive mode (copy all uid/gid information)");
  sub->add_flag("-L,--follow-link", o->follow, "Always follow symbol link in SRC_PATH");
  sub->add_option("src", o->src, "CONTAINER:SRC_PATH, SRC_PATH or -")->required();
  sub->add_option("dst", o->dst, "CONTAINER:DEST_PATH, DEST_PATH or -")->required();
#if BERTHCTL_ARCHIVE
  sub->callback([&g, &exit_code, o] { exit_code = cp(g, *o); });
#else
  // `o` is captured to outlive the parse, which writes into it.
  sub->callback([&g, &exit_code, o] { exit_code = exec_cp_twin(g); });
#endif
}

}  // namespace berth::ctl
