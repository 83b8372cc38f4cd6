// docker cp (HEAD/GET/PUT /containers/{id}/archive, berthctl cp) with real
// containers, running and stopped, and the known attacks: a symlink to the
// host's "/" or to a host directory, ".." chains, a symlink swapped for a
// directory while copies run, and hostile tar entries. Each attack has a
// marker on the host that must never come back, and a host directory that
// must stay empty.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>

#include "core/base/file.h"
#include "fs/tar_writer.h"
#include "ipc/proto/path_stat.h"
#include "tests/integration/suite.h"
#include "tests/integration/tar_entries.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kHostMarker = "HOST-SECRET-MARKER";

int count_entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") n++;
  ::closedir(d);
  return n;
}

class CpTest : public DaemonSuite {
 protected:
  void SetUp() override {
    DaemonSuite::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/berth-cp-host-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    host_ = tmpl;
    // The host's secret, and an empty host directory that must stay empty.
    ASSERT_TRUE(write_file_atomic(host_ + "/secret", std::string(kHostMarker) + "\n").has_value());
    ASSERT_EQ(::mkdir((host_ + "/empty").c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!host_.empty()) {
      EXPECT_EQ(count_entries(host_ + "/empty"), 0) << "something was written into the host dir";
      std::string cmd = "rm -rf " + host_;
      EXPECT_EQ(::system(cmd.c_str()), 0);
    }
    if (daemon_) {
      EXPECT_EQ(d().mounts_under(d().root()), 0);
    }
  }

  // A running container that has run `script` (then sleeps).
  void start(const std::string& name, const std::string& script) {
    auto r = d().ctl({"run", "-d", "--name", name, "busybox", "sh", "-c", script + "; touch /ready; sleep 1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (int i = 0; i < 1000 && status("HEAD", name, "/ready") != 200; i++) usleep(10000);
    ASSERT_EQ(status("HEAD", name, "/ready"), 200);
  }
  void rm(const std::string& name) { EXPECT_EQ(d().ctl({"rm", "-f", name}).exit_code, 0); }

  std::string url(const std::string& ctr, const std::string& path, const std::string& extra = "") {
    std::string enc;
    for (char ch : path) {
      if (isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '.' || ch == '-' || ch == '_') enc += ch;
      else enc += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
    }
    return "/containers/" + ctr + "/archive?path=" + enc + extra;
  }
  int status(const std::string& method, const std::string& ctr, const std::string& path) {
    auto r = d().client().request(method, url(ctr, path));
    return r ? r->status : -1;
  }
  // GET: the response (status, header, tar body).
  ipc::Response get(const std::string& ctr, const std::string& path) {
    auto r = d().client().request("GET", url(ctr, path));
    EXPECT_TRUE(r.has_value());
    return r ? *r : ipc::Response{};
  }
  ipc::PathStat stat_of(const ipc::Response& r) {
    auto s = ipc::decode_path_stat(r.header(ipc::kPathStatHeader));
    EXPECT_TRUE(s.has_value()) << r.header(ipc::kPathStatHeader);
    return s ? *s : ipc::PathStat{};
  }
  // PUT a tar made of `entries` (hostile names allowed).
  ipc::Response put(const std::string& ctr, const std::string& path, const std::vector<fs::TarEntry>& entries,
                    const std::string& extra = "") {
    std::string file = d().dir() + "/upload.tar";
    {
      auto w = fs::TarWriter::create(file);
      EXPECT_TRUE(w.has_value());
      for (const auto& e : entries) EXPECT_TRUE(w->add(e).has_value());
      EXPECT_TRUE(w->close().has_value());
    }
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    auto r = d().client().upload("PUT", url(ctr, path, extra), fd, "application/x-tar");
    ::close(fd);
    EXPECT_TRUE(r.has_value());
    return r ? *r : ipc::Response{};
  }
  static fs::TarEntry file(std::string path, std::string data) {
    fs::TarEntry e;
    e.path = std::move(path);
    e.data = std::move(data);
    return e;
  }
  std::string exec_out(const std::string& ctr, const std::string& script) {
    return d().ctl({"exec", ctr, "sh", "-c", script}).out;
  }

  std::string host_;
};

TEST_F(CpTest, GetAFileADirectoryAndTheirStat) {
  start("get", "mkdir -p /d/sub; echo hi > /d/f; echo g > /d/sub/g; chmod 4750 /d/f; ln -s /d/f /lnk");
  auto f = get("get", "/d/f");
  EXPECT_EQ(f.status, 200) << f.body;
  EXPECT_EQ(tar_entries(f.body, false), (std::map<std::string, std::string>{{"f", "hi\n"}}));
  ipc::PathStat st = stat_of(f);
  EXPECT_EQ(st.name, "f");
  EXPECT_EQ(st.size, 3);
  EXPECT_EQ(st.mode, 0750u | (1u << 23));  // Go's ModeSetuid
  EXPECT_EQ(st.link_target, "");
  EXPECT_THAT(st.mtime, HasSubstr("T"));

  auto dir = get("get", "/d");
  EXPECT_EQ(tar_entries(dir.body, false), (std::map<std::string, std::string>{
                                       {"d", ""}, {"d/f", "hi\n"}, {"d/sub", ""}, {"d/sub/g", "g\n"}}));
  EXPECT_TRUE(stat_of(dir).is_dir());
  auto contents = get("get", "/d/.");
  EXPECT_EQ(tar_entries(contents.body, false).count("./sub/g"), 1u) << contents.body.size();

  // HEAD: the header only; a symlink is reported with its in-root target.
  auto head = d().client().request("HEAD", url("get", "/lnk"));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  ipc::PathStat ls = stat_of(*head);
  EXPECT_TRUE(ls.is_symlink());
  EXPECT_EQ(ls.link_target, "/d/f");
  EXPECT_EQ(tar_entries(get("get", "/lnk").body, false), (std::map<std::string, std::string>{{"lnk", "->/d/f"}}));

  auto missing = d().client().request("HEAD", url("get", "/nope"));
  EXPECT_EQ(missing->status, 404);
  auto missing_get = get("get", "/nope/x");
  EXPECT_EQ(missing_get.status, 404);
  EXPECT_THAT(missing_get.body, HasSubstr("Could not find the file /nope/x in container get"));
  EXPECT_EQ(status("GET", "get", "/d/f/"), 400);  // a trailing slash asserts a directory
  EXPECT_EQ(d().client().request("GET", "/containers/get/archive")->status, 400);
  EXPECT_EQ(status("GET", "nosuch", "/d"), 404);
  rm("get");
}

// `ln -s / /hostroot` and a link to the host's marker by its host path: both
// resolve inside the container, to its own file of that name.
TEST_F(CpTest, SymlinksToTheHostResolveInsideTheContainer) {
  std::string in_ctr = host_ + "/secret";
  start("esc", "ln -s / /hostroot; ln -s " + in_ctr + " /marker; ln -s " + host_ + " /hostdir; mkdir -p " + host_ +
                   "; echo container > " + in_ctr);
  for (const std::string& path : std::vector<std::string>{"/hostroot" + in_ctr, "/marker", "/hostdir/secret",
                                  "/../../../.." + in_ctr, "/hostroot/../../.." + in_ctr}) {
    auto r = get("esc", path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_THAT(r.body, Not(HasSubstr(kHostMarker))) << path;
    auto entries = tar_entries(r.body, false);
    if (path == "/marker") {
      EXPECT_EQ(entries["marker"], "->" + in_ctr);
      EXPECT_EQ(stat_of(r).link_target, in_ctr);
    } else {
      EXPECT_EQ(entries["secret"], "container\n") << path;
    }
  }
  // The whole /hostroot directory is the link itself; its target's tree,
  // asked for with a trailing slash, is the container's root.
  auto all = get("esc", "/hostroot/");
  EXPECT_THAT(all.body, Not(HasSubstr(kHostMarker)));
  EXPECT_EQ(tar_entries(all.body, false)["hostroot" + in_ctr], "container\n");
  // /etc/shadow through the link: the container's (busybox has none), never the host's.
  auto shadow = get("esc", "/hostroot/etc/shadow");
  EXPECT_EQ(shadow.status, 404);
  rm("esc");
}

TEST_F(CpTest, PutThroughASymlinkedDirStaysInTheContainer) {
  std::string hostdir = host_ + "/empty";
  start("putesc", "ln -s " + hostdir + " /x; ln -s / /root-link");
  // The link's target does not exist in the container: 404, nothing written.
  auto r = put("putesc", "/x", {file("evil", "boom")});
  EXPECT_EQ(r.status, 404) << r.body;
  // Once it exists in the container, the file lands there.
  exec_out("putesc", "mkdir -p " + hostdir);
  r = put("putesc", "/x", {file("evil", "boom")});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(exec_out("putesc", "cat " + hostdir + "/evil"), "boom");
  // Entries whose parent is an in-container link to "/".
  r = put("putesc", "/", {file("root-link" + hostdir + "/evil2", "boom2")});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(exec_out("putesc", "cat " + hostdir + "/evil2"), "boom2");
  rm("putesc");
}

TEST_F(CpTest, HostileTarEntriesAreRefused) {
  start("hostile", "mkdir /in; mkdir -p " + host_ + "/empty");
  auto dots = put("hostile", "/in", {file("../../../../" + host_ + "/empty/escape", "x")});
  EXPECT_EQ(dots.status, 400);
  EXPECT_THAT(dots.body, HasSubstr("refusing archive entry ../../../../"));
  EXPECT_THAT(dots.body, HasSubstr("path contains '..'"));
  auto abs = put("hostile", "/in", {file(host_ + "/empty/abs", "x")});
  EXPECT_EQ(abs.status, 400);
  EXPECT_THAT(abs.body, HasSubstr("absolute path"));
  fs::TarEntry link;
  link.path = "l";
  link.hardlink = true;
  link.link_target = "../../etc/passwd";
  auto hl = put("hostile", "/in", {link});
  EXPECT_EQ(hl.status, 400) << hl.body;
  // A tar symlink to the host, then a file through it: the symlink is
  // created, the file lands inside the container (the link resolved in root).
  fs::TarEntry sl;
  sl.path = "out";
  sl.mode = S_IFLNK | 0777;
  sl.link_target = host_ + "/empty";
  auto through = put("hostile", "/in", {sl, file("out/planted", "x")});
  EXPECT_EQ(through.status, 200) << through.body;
  EXPECT_EQ(exec_out("hostile", "cat " + host_ + "/empty/planted"), "x");
  // Not a directory; missing; no overwrite of a directory by a file.
  EXPECT_EQ(put("hostile", "/in/out/planted", {file("a", "b")}).status, 400);
  EXPECT_EQ(put("hostile", "/nowhere", {file("a", "b")}).status, 404);
  auto clash = put("hostile", "/", {file("in", "b")}, "&noOverwriteDirNonDir=true");
  EXPECT_EQ(clash.status, 400);
  EXPECT_THAT(clash.body, HasSubstr("cannot overwrite directory"));
  rm("hostile");
}

// A container keeps swapping /swap between a real directory and a symlink
// to "/" (and /swap2 to the host's directory path) while copies run: the
// host's marker never comes back and nothing lands on the host.
TEST_F(CpTest, SymlinkSwappedDuringCopies) {
  std::string loop = "mkdir -p " + host_ + "; echo container > " + host_ + "/secret; " +
                     "while :; do rm -rf /swap /swap2; mkdir /swap /swap2; echo c > /swap/secret; " +
                     "rm -rf /swap /swap2; ln -s / /swap; ln -s " + host_ + " /swap2; done";
  start("race", "true");
  auto bg = d().ctl({"exec", "-d", "race", "sh", "-c", loop});
  ASSERT_EQ(bg.exit_code, 0) << bg.err;
  int seen = 0;
  for (int i = 0; i < 150; i++) {
    for (const std::string& path : std::vector<std::string>{"/swap/secret", "/swap" + host_ + "/secret", "/swap2/secret", "/swap", "/swap2/"}) {
      auto r = get("race", path);
      EXPECT_THAT(r.body, Not(HasSubstr(kHostMarker))) << path;
      if (r.status == 200) seen++;
    }
    auto p = put("race", "/swap2", {file("w" + std::to_string(i), "x")});
    EXPECT_TRUE(p.status == 200 || p.status == 404) << p.status << " " << p.body;
    ASSERT_EQ(count_entries(host_ + "/empty"), 0);
  }
  EXPECT_GT(seen, 0);
  EXPECT_EQ(count_entries(host_), 2);  // secret, empty
  rm("race");
}

TEST_F(CpTest, StoppedContainers) {
  auto r = d().ctl({"run", "--name", "stopped", "busybox", "sh", "-c", "mkdir /d; echo s > /d/f; ln -s / /up"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = get("stopped", "/up/d/f");
  EXPECT_EQ(f.status, 200) << f.body;
  EXPECT_EQ(tar_entries(f.body, false)["f"], "s\n");
  EXPECT_EQ(get("stopped", "/../../d").status, 200);
  EXPECT_EQ(put("stopped", "/d", {file("new", "n")}).status, 200);
  EXPECT_EQ(tar_entries(get("stopped", "/d/new").body, false)["new"], "n");
  EXPECT_EQ(put("stopped", "/up/../..", {file("top", "t")}).status, 200);
  auto diff = d().ctl({"diff", "stopped"});
  EXPECT_THAT(diff.out, HasSubstr("A /d/new"));
  EXPECT_THAT(diff.out, HasSubstr("A /top"));
  EXPECT_EQ(d().mounts_under(d().root()), 0);
  rm("stopped");
}

// A copy out of a stopped container holds a detached overlay on its upper
// dir for as long as the tar streams: a start meanwhile is refused (409),
// and works once the copy has ended.
TEST_F(CpTest, StartWaitsForACopyOfTheStoppedContainer) {
  auto r = d().ctl({"run", "--name", "held", "busybox", "sh", "-c", "head -c 33554432 /dev/zero > /big"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto start = [&] {
    auto resp = d().client().request("POST", "/containers/held/start");
    return resp ? resp->status : -1;
  };
  {
    // The client reads nothing past the head: 32 MiB cannot fit in the
    // socket buffers, so the producer (and its overlay) stays alive.
    ipc::Client reader = d().client();
    auto head = reader.start_stream("GET", url("held", "/big"));
    ASSERT_TRUE(head && head->status == 200);
    auto refused = d().client().request("POST", "/containers/held/start");
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->status, 409);
    EXPECT_THAT(refused->body, HasSubstr("copy (cp) in progress"));
    size_t bytes = 0;
    for (;;) {
      auto piece = reader.next_chunk();
      ASSERT_TRUE(piece.has_value());
      if (!*piece) break;
      bytes += (*piece)->size();
    }
    EXPECT_GT(bytes, size_t(32 << 20));
  }
  // The hold goes with the stream's last piece, a reactor turn or so after
  // the client got it: bounded retries, not a sleep.
  int status = 409;
  for (int i = 0; i < 500 && status == 409; i++) {
    status = start();
    if (status == 409) usleep(2000);
  }
  EXPECT_EQ(status, 204);
  EXPECT_EQ(d().ctl({"wait", "held"}).out, "0\n");
  EXPECT_EQ(d().mounts_under(d().root()), 0);
  rm("held");
}

TEST_F(CpTest, BerthctlCp) {
  start("ctl", "mkdir -p /d/sub; echo hi > /d/f; echo g > /d/sub/g; ln -s /d/f /lnk");
  std::string out = d().dir() + "/cpout";
  ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
  auto r = d().ctl({"cp", "ctl:/d/f", out + "/f1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out + "/f1", 100).value_or(""), "hi\n");
  r = d().ctl({"cp", "ctl:/d", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out + "/d/sub/g", 100).value_or(""), "g\n");
  r = d().ctl({"cp", "-L", "ctl:/lnk", out + "/followed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_file(out + "/followed", 100).value_or(""), "hi\n");
  r = d().ctl({"cp", "ctl:/d", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(tar_entries(r.out, false)["d/f"], "hi\n");
  // In: a file, a directory, a tar on stdin.
  ASSERT_TRUE(write_file_atomic(out + "/in.txt", "in\n").has_value());
  r = d().ctl({"cp", out + "/in.txt", "ctl:/d/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec_out("ctl", "cat /d/in.txt"), "in\n");
  r = d().ctl({"cp", out + "/in.txt", "ctl:/d/renamed.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec_out("ctl", "cat /d/renamed.txt"), "in\n");
  r = d().ctl({"cp", out + "/d", "ctl:/copied"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec_out("ctl", "cat /copied/sub/g"), "g\n");
  r = d().ctl({"cp", "ctl:/d/f", "-"});
  ASSERT_EQ(r.exit_code, 0);
  r = d().ctl({"cp", "-", "ctl:/tmp"}, r.out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec_out("ctl", "cat /tmp/f"), "hi\n");
  auto missing = d().ctl({"cp", "ctl:/nope", out});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("Could not find the file /nope in container ctl"));
  EXPECT_NE(d().ctl({"cp", out + "/in.txt", out + "/x"}).exit_code, 0);  // no container side
  rm("ctl");
}

}  // namespace
}  // namespace berth::test
