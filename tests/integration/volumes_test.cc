// Volumes and mounts with real containers: named volumes shared between
// containers and populated from the image, binds (read-write and
// read-only), tmpfs, --read-only, anonymous volumes and rm -v, the volume
// API, a symlink planted in an image at a mount target, and persistence
// across a daemon restart. Every test checks that nothing stays mounted.
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// A host directory for one test, removed at the end.
class HostDir {
 public:
  HostDir() {
    char tmpl[] = "/tmp/berth-vol-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~HostDir() { (void)remove_tree(path_); }
  HostDir(const HostDir&) = delete;
  HostDir& operator=(const HostDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

std::vector<std::string> entries(const std::string& dir) {
  auto r = run_command({"ls", "-A", dir});
  auto lines = split(r.out, '\n');
  std::erase(lines, "");
  return lines;
}

class VolumeTest : public DaemonSuite {
 protected:
  void TearDown() override {
    if (!daemon_) return;
    // Nothing of any test stays mounted in the daemon's (the host's) namespace.
    EXPECT_EQ(d().mounts_under(d().root()), 0);
    EXPECT_EQ(d().mounts_under("/tmp/berth-vol-test-"), 0);
  }
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    return d().ctl(args);
  }
  struct Http {
    int status = -1;
    std::string body;
  };
  Http api(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = d().client();
    auto r = c.request(method, path, body);
    if (!r) return {};
    return {r->status, r->body};
  }
  Json inspect_volume(const std::string& name) {
    Http h = api("GET", "/volumes/" + name);
    EXPECT_EQ(h.status, 200) << h.body;
    return h.status == 200 ? Json::parse(h.body) : Json();
  }
  bool volume_exists(const std::string& name) { return api("GET", "/volumes/" + name).status == 200; }
  std::string create_id(const std::vector<std::string>& args) {
    std::vector<std::string> a = {"create"};
    a.insert(a.end(), args.begin(), args.end());
    auto r = d().ctl(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, 64);
  }
};

TEST_F(VolumeTest, NamedVolumeCarriesFilesBetweenContainers) {
  auto w = run({"--rm", "-v", "shared1:/data", "busybox", "sh", "-c", "echo hello > /data/f"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto r = run({"--rm", "-v", "shared1:/data", "busybox", "cat", "/data/f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  Json v = inspect_volume("shared1");
  EXPECT_EQ(v["Driver"], "local");
  EXPECT_EQ(v["Scope"], "local");
  EXPECT_EQ(v["Mountpoint"], d().root() + "/volumes/shared1/_data");
  EXPECT_EQ(read_file(d().root() + "/volumes/shared1/_data/f").value_or(""), "hello\n");
  // It outlived both --rm containers: only anonymous volumes go with them.
  EXPECT_EQ(d().ctl({"volume", "rm", "shared1"}).exit_code, 0);
  EXPECT_FALSE(volume_exists("shared1"));
}

TEST_F(VolumeTest, NamedVolumePopulatedFromImageContent) {
  auto r = run({"--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "cat /etc/passwd; stat -c '%a %u' /etc/passwd"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0:root:/root:/bin/sh"));
  EXPECT_THAT(r.out, HasSubstr("644 0"));
  std::string data = d().root() + "/volumes/etcvol/_data";
  EXPECT_THAT(read_file(data + "/group").value_or(""), HasSubstr("wheel:x:10:root"));
  // Not copied again once it has content: a change sticks.
  ASSERT_EQ(run({"--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "echo changed > /etc/motd"}).exit_code, 0);
  EXPECT_EQ(run({"--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/motd"}).out, "changed\n");
  // nocopy: nothing of the image's is copied; only the mount points of
  // the /etc files berth binds over it appear (as with Docker).
  auto empty = run({"--rm", "-v", "etcnocopy:/etc:nocopy", "busybox", "ls", "-A", "/etc"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "hostname\nhosts\nresolv.conf\n");
  EXPECT_EQ(d().ctl({"volume", "rm", "etcvol", "etcnocopy"}).exit_code, 0);
}

TEST_F(VolumeTest, BindMountsReadWriteAndReadOnly) {
  HostDir h;
  ASSERT_TRUE(write_file_atomic(h / "in", "from host\n", 0644, false));
  auto rw = run({"--rm", "-v", h.path() + ":/mnt/host", "busybox", "sh", "-c", "cat /mnt/host/in; echo out > /mnt/host/out"});
  EXPECT_EQ(rw.exit_code, 0) << rw.err;
  EXPECT_EQ(rw.out, "from host\n");
  EXPECT_EQ(read_file(h / "out").value_or(""), "out\n");

  auto ro = run({"--rm", "-v", h.path() + ":/mnt/host:ro", "busybox", "sh", "-c",
                 "cat /mnt/host/in; echo x > /mnt/host/new"});
  EXPECT_NE(ro.exit_code, 0);
  EXPECT_EQ(ro.out, "from host\n");
  EXPECT_THAT(ro.err, HasSubstr("Read-only file system"));
  EXPECT_FALSE(path_exists(h / "new"));

  auto mount_ro = run({"--rm", "--mount", "type=bind,source=" + h.path() + ",target=/m,readonly", "busybox", "sh",
                       "-c", "touch /m/x"});
  EXPECT_NE(mount_ro.exit_code, 0);
  EXPECT_THAT(mount_ro.err, HasSubstr("Read-only file system"));
  EXPECT_FALSE(path_exists(h / "x"));

  // A file bind: the mount point is created as a file.
  auto file = run({"--rm", "-v", (h / "in") + ":/etc/app/in.conf:ro", "busybox", "cat", "/etc/app/in.conf"});
  EXPECT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, "from host\n");
}

TEST_F(VolumeTest, BindSourceRulesOfVAndMount) {
  HostDir h;
  // -v creates a missing host directory, as Docker does.
  std::string missing = h / "made/by/v";
  auto v = run({"--rm", "-v", missing + ":/x", "busybox", "true"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  struct stat st{};
  EXPECT_EQ(::stat(missing.c_str(), &st), 0);
  // --mount refuses a missing source at create (a 400).
  auto m = d().ctl({"create", "--mount", "type=bind,source=" + (h / "nope") + ",target=/x", "busybox", "true"});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_THAT(m.err, HasSubstr("bind source path does not exist: " + (h / "nope")));
  Http bad = api("POST", "/containers/create", R"({"Image":"busybox","HostConfig":{"Binds":["/a:/b:ro,rw"]}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("invalid mode: ro,rw"));
  Http dup = api("POST", "/containers/create", R"({"Image":"busybox","HostConfig":{"Binds":["/a:/b","v1:/b"]}})");
  EXPECT_EQ(dup.status, 400);
  EXPECT_THAT(dup.body, HasSubstr("Duplicate mount point: /b"));
  Http tmpfs = api("POST", "/containers/create", R"({"Image":"busybox","HostConfig":{"Tmpfs":{"/t":"bogus"}}})");
  EXPECT_EQ(tmpfs.status, 400);
  EXPECT_THAT(tmpfs.body, HasSubstr("Invalid tmpfs option"));
}

TEST_F(VolumeTest, TmpfsHasItsSizeModeAndFlags) {
  auto r = run({"--rm", "--tmpfs", "/scratch:size=1m,mode=1770", "busybox", "sh", "-c",
                "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; "
                "dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1; true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("tmpfs /scratch tmpfs "));  // source "tmpfs", as Docker's
  EXPECT_THAT(r.out, HasSubstr("size=1024k"));
  EXPECT_THAT(r.out, HasSubstr("nosuid,nodev,noexec"));
  EXPECT_THAT(r.out, HasSubstr("\n1770\n"));
  EXPECT_THAT(r.out, HasSubstr("No space left on device"));

  auto m = run({"--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=2m", "busybox", "grep", " /t ", "/proc/mounts"});
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_THAT(m.out, HasSubstr("size=2048k"));
  // exec lifts Docker's default noexec.
  auto e = run({"--rm", "--tmpfs", "/run/x:exec", "busybox", "grep", " /run/x ", "/proc/mounts"});
  EXPECT_THAT(e.out, Not(HasSubstr("noexec")));
}

TEST_F(VolumeTest, ReadOnlyRootRefusesWritesOutsideTmpfsAndVolumes) {
  HostDir h;
  auto r = run({"--rm", "--read-only", "--tmpfs", "/tmp", "-v", "rovol:/vol", "-v", h.path() + ":/bind", "busybox",
                "sh", "-c",
                "touch /root-file 2>&1; echo root=$?; touch /tmp/x && echo tmp-ok; touch /vol/x && echo vol-ok; "
                "touch /bind/x && echo bind-ok; touch /dev/shm/x && echo shm-ok"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Read-only file system"));
  EXPECT_THAT(r.out, HasSubstr("root=1"));
  EXPECT_THAT(r.out, HasSubstr("tmp-ok"));
  EXPECT_THAT(r.out, HasSubstr("vol-ok"));
  EXPECT_THAT(r.out, HasSubstr("bind-ok"));
  EXPECT_THAT(r.out, HasSubstr("shm-ok"));
  EXPECT_TRUE(path_exists(h / "x"));
  // Without --read-only the same write works.
  EXPECT_EQ(run({"--rm", "busybox", "touch", "/root-file"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"volume", "rm", "rovol"}).exit_code, 0);
}

TEST_F(VolumeTest, VolumeInUseIsNotRemoved) {
  std::string id = create_id({"-v", "busyvol:/d", "busybox", "true"});
  Http h = api("DELETE", "/volumes/busyvol");
  EXPECT_EQ(h.status, 409);
  EXPECT_THAT(h.body, HasSubstr("remove busyvol: volume is in use - [" + id + "]"));
  EXPECT_EQ(api("DELETE", "/volumes/busyvol?force=1").status, 409);  // force does not override use (Docker)
  auto ctl = d().ctl({"volume", "rm", "busyvol"});
  EXPECT_EQ(ctl.exit_code, 1);
  EXPECT_THAT(ctl.err, HasSubstr("volume is in use"));
  Http dangling = api("GET", "/volumes?filters=" + ipc::url_encode(R"({"dangling":["true"]})"));
  ASSERT_EQ(dangling.status, 200) << dangling.body;
  Json unused = Json::parse(dangling.body);
  for (const auto& v : unused["Volumes"]) EXPECT_NE(v["Name"], "busyvol");
  Http used = api("GET", "/volumes?filters=" + ipc::url_encode(R"({"dangling":["false"]})"));
  EXPECT_THAT(used.body, HasSubstr("\"busyvol\""));
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
  EXPECT_TRUE(volume_exists("busyvol"));  // rm without -v keeps volumes
  EXPECT_EQ(api("DELETE", "/volumes/busyvol").status, 204);
  EXPECT_EQ(api("DELETE", "/volumes/busyvol").status, 404);
  EXPECT_EQ(api("DELETE", "/volumes/busyvol?force=1").status, 204);
}

TEST_F(VolumeTest, AnonymousVolumesGoWithRmV) {
  std::string id = create_id({"-v", "/anon", "busybox", "true"});
  Http insp = api("GET", "/containers/" + id + "/json");
  ASSERT_EQ(insp.status, 200);
  Json j = Json::parse(insp.body);
  ASSERT_EQ(j["Mounts"].size(), 1u);
  std::string name = j["Mounts"][0]["Name"];
  EXPECT_EQ(name.size(), 64u);
  EXPECT_TRUE(is_hex(name));
  EXPECT_EQ(j["Mounts"][0]["Type"], "volume");
  EXPECT_EQ(j["Config"]["Volumes"], Json::parse(R"({"/anon":{}})"));
  EXPECT_TRUE(inspect_volume(name)["Labels"].contains("com.docker.volume.anonymous"));
  EXPECT_EQ(d().ctl({"rm", "-v", id}).exit_code, 0);
  EXPECT_FALSE(volume_exists(name));

  // Without -v the anonymous volume stays, and prune (anonymous only by
  // default) takes it while leaving named ones.
  std::string id2 = create_id({"-v", "/anon2", "-v", "keepme:/k", "busybox", "true"});
  // Binds come first in Mounts, then Config.Volumes.
  Json j2 = Json::parse(api("GET", "/containers/" + id2 + "/json").body);
  ASSERT_EQ(j2["Mounts"].size(), 2u);
  EXPECT_EQ(j2["Mounts"][0]["Name"], "keepme");
  EXPECT_EQ(j2["Mounts"][1]["Destination"], "/anon2");
  std::string name2 = j2["Mounts"][1]["Name"];
  EXPECT_EQ(d().ctl({"rm", id2}).exit_code, 0);
  EXPECT_TRUE(volume_exists(name2));
  auto pr = d().ctl({"volume", "prune", "-f"});
  EXPECT_EQ(pr.exit_code, 0) << pr.err;
  EXPECT_THAT(pr.out, HasSubstr(name2));
  EXPECT_FALSE(volume_exists(name2));
  EXPECT_TRUE(volume_exists("keepme"));
  auto all = d().ctl({"volume", "prune", "-f", "-a"});
  EXPECT_THAT(all.out, HasSubstr("keepme"));
  EXPECT_FALSE(volume_exists("keepme"));

  // --rm takes its anonymous volumes along, as Docker's AutoRemove does.
  auto before = d().ctl({"volume", "ls", "-q"}).out;
  ASSERT_EQ(run({"--rm", "-v", "/gone", "busybox", "touch", "/gone/x"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"volume", "ls", "-q"}).out, before);
}

TEST_F(VolumeTest, VolumeApiCreateListInspectFilters) {
  Http c = api("POST", "/volumes/create", R"({"Name":"apivol","Driver":"local","Labels":{"team":"a"}})");
  ASSERT_EQ(c.status, 201) << c.body;
  Json v = Json::parse(c.body);
  EXPECT_EQ(v["Name"], "apivol");
  EXPECT_EQ(v["Labels"]["team"], "a");
  EXPECT_THAT(v["CreatedAt"].get<std::string>(), testing::MatchesRegex("[0-9-]+T[0-9:]+Z"));
  EXPECT_EQ(api("POST", "/volumes/create", R"({"Name":"apivol"})").status, 201);  // idempotent
  Http gen = api("POST", "/volumes/create", "");
  ASSERT_EQ(gen.status, 201);
  std::string generated = Json::parse(gen.body)["Name"];
  EXPECT_EQ(generated.size(), 64u);
  EXPECT_EQ(api("POST", "/volumes/create", R"({"Name":"bad/name"})").status, 400);
  EXPECT_EQ(api("POST", "/volumes/create", R"({"Name":"v2","Driver":"nfs"})").status, 404);
  Http missing = api("GET", "/volumes/nosuchvol");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("get nosuchvol: no such volume"));

  Json list = Json::parse(api("GET", "/volumes").body);
  EXPECT_TRUE(list["Warnings"].is_null());
  auto names = [&](const std::string& filters) {
    Http h = api("GET", "/volumes?filters=" + ipc::url_encode(filters));
    EXPECT_EQ(h.status, 200) << h.body;
    std::vector<std::string> out;
    Json list = Json::parse(h.body);
    for (const auto& x : list["Volumes"]) out.push_back(x["Name"]);
    return out;
  };
  EXPECT_EQ(names(R"({"name":{"apiv":true}})"), std::vector<std::string>{"apivol"});
  EXPECT_EQ(names(R"({"label":{"team=a":true}})"), std::vector<std::string>{"apivol"});
  EXPECT_TRUE(names(R"({"label":{"team=b":true}})").empty());
  EXPECT_EQ(api("GET", "/volumes?filters=" + ipc::url_encode(R"({"color":["x"]})")).status, 400);

  auto ls = d().ctl({"volume", "ls"});
  EXPECT_THAT(ls.out, HasSubstr("DRIVER"));
  EXPECT_THAT(ls.out, HasSubstr("local     apivol"));
  auto ctl_create = d().ctl({"volume", "create", "--label", "x=y", "ctlvol"});
  EXPECT_EQ(ctl_create.out, "ctlvol\n");
  auto ctl_inspect = d().ctl({"volume", "inspect", "ctlvol"});
  EXPECT_THAT(ctl_inspect.out, HasSubstr("\"x\": \"y\""));
  auto rm = d().ctl({"volume", "rm", "apivol", "ctlvol", generated, "nosuchvol"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_THAT(rm.out, HasSubstr("apivol\nctlvol\n"));
  EXPECT_THAT(rm.err, HasSubstr("no such volume"));
}

TEST_F(VolumeTest, InspectShowsDockerMountPoints) {
  HostDir h;
  std::string id = create_id({"-v", h.path() + ":/b:ro", "-v", "mpvol:/v", "--mount", "type=tmpfs,target=/t",
                              "--tmpfs", "/hidden", "--read-only", "busybox", "true"});
  Json j = Json::parse(api("GET", "/containers/" + id + "/json").body);
  Json want = Json::parse(fmt::format(
      R"([{{"Type":"bind","Source":"{}","Destination":"/b","Mode":"ro","RW":false,"Propagation":"rprivate"}},
          {{"Type":"volume","Name":"mpvol","Source":"{}","Destination":"/v","Driver":"local","Mode":"z","RW":true,"Propagation":""}},
          {{"Type":"tmpfs","Source":"","Destination":"/t","Mode":"","RW":true,"Propagation":""}}])",
      h.path(), d().root() + "/volumes/mpvol/_data"));
  EXPECT_EQ(j["Mounts"], want);
  EXPECT_EQ(j["HostConfig"]["Binds"], Json::array({h.path() + ":/b:ro", "mpvol:/v"}));
  EXPECT_EQ(j["HostConfig"]["Tmpfs"], Json::parse(R"({"/hidden":""})"));
  EXPECT_EQ(j["HostConfig"]["Mounts"][0]["Type"], "tmpfs");
  EXPECT_EQ(j["HostConfig"]["ReadonlyRootfs"], true);
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
  EXPECT_EQ(d().ctl({"volume", "rm", "mpvol"}).exit_code, 0);
}

// An image whose mount targets are symlinks to host paths: every mount lands
// inside the container's root, never on the host.
class VolumeSymlinkTest : public VolumeTest {
 protected:
  // busybox plus `links` (name → target), `dirs` created in the image.
  void import_image(const std::string& name, const std::vector<std::pair<std::string, std::string>>& links,
                    const std::vector<std::string>& dirs) {
    HostDir stage;
    ASSERT_EQ(run_command({"tar", "-xf", BERTH_BUSYBOX_TAR, "-C", stage.path()}).exit_code, 0);
    for (const auto& dir : dirs) ASSERT_TRUE(make_dirs(stage.path() + dir));
    for (const auto& [link, target] : links) ASSERT_EQ(::symlink(target.c_str(), (stage / link).c_str()), 0);
    std::string tar = stage.path() + ".tar";
    ASSERT_EQ(run_command({"tar", "-cf", tar, "-C", stage.path(), "."}).exit_code, 0);
    auto r = d().ctl({"import", tar, name});
    ::unlink(tar.c_str());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

TEST_F(VolumeSymlinkTest, PlantedSymlinkCannotRedirectABindOntoTheHost) {
  HostDir victim, source;
  ASSERT_TRUE(write_file_atomic(victim / "marker", "host\n", 0644, false));
  // symimg: /inside and /dotdot name the victim's host path, which the
  // image has too; symimg-dangling: /escape names a path only the host has.
  std::string rel = "../../../../../../.." + victim.path();
  import_image("symimg", {{"inside", victim.path()}, {"dotdot", rel}}, {victim.path()});
  import_image("symimg-dangling", {{"escape", victim.path()}}, {});

  // Dangling inside the root: the start fails; nothing is created or
  // mounted on the host's side of the link.
  auto dangling = run({"--rm", "-v", source.path() + ":/escape", "symimg-dangling", "sh", "-c", "echo pwned > /escape/p"});
  EXPECT_NE(dangling.exit_code, 0);
  EXPECT_THAT(dangling.err, HasSubstr("bind " + source.path() + " on /escape: no such file or directory"));
  auto parents = run({"--rm", "-v", source.path() + ":/escape/sub/dir", "symimg-dangling", "true"});
  EXPECT_NE(parents.exit_code, 0);
  EXPECT_THAT(parents.err, HasSubstr("on /escape/sub/dir: not a directory"));
  EXPECT_EQ(entries(victim.path()), std::vector<std::string>{"marker"});

  // Resolving inside the root: the bind is on the container's own copy of
  // the path, and writes reach the bind source, not the host path.
  for (std::string target : {"/inside", "/dotdot"}) {
    auto r = run({"--rm", "-v", source.path() + ":" + target, "symimg", "sh", "-c",
                  "echo pwned > " + target + "/p; ls " + target + "; cat " + victim.path() + "/p"});
    EXPECT_EQ(r.exit_code, 0) << target << ": " << r.err;
    EXPECT_EQ(r.out, "p\npwned\n") << target;
    EXPECT_EQ(read_file(source / "p").value_or(""), "pwned\n");
    EXPECT_EQ(entries(victim.path()), std::vector<std::string>{"marker"});
    ::unlink((source / "p").c_str());
  }
  // A volume's copy-up through the link copies the image's (empty) copy,
  // never the host's marker.
  auto vol = run({"--rm", "-v", "symvol:/inside", "symimg", "ls", "-A", "/inside"});
  EXPECT_EQ(vol.exit_code, 0) << vol.err;
  EXPECT_EQ(vol.out, "");
  EXPECT_EQ(d().ctl({"volume", "rm", "symvol"}).exit_code, 0);
  EXPECT_EQ(entries(victim.path()), std::vector<std::string>{"marker"});
  EXPECT_EQ(d().mounts_under(victim.path()), 0);
}

// Volume metadata and container references survive a daemon restart.
TEST(VolumeRestartTest, VolumesAndTheirUsersComeBack) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err) && d.import_busybox(&err)) << err;
  ASSERT_EQ(d.ctl({"volume", "create", "--label", "keep=1", "persist1"}).exit_code, 0);
  auto w = d.ctl({"run", "--name", "writer", "-v", "persist1:/d", "busybox", "sh", "-c", "echo kept > /d/f"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  ASSERT_EQ(d.stop(), 0);
  ASSERT_TRUE(d.start(&err)) << err;
  auto insp = d.ctl({"volume", "inspect", "persist1"});
  EXPECT_THAT(insp.out, HasSubstr("\"keep\": \"1\""));
  auto rm = d.ctl({"volume", "rm", "persist1"});
  EXPECT_EQ(rm.exit_code, 1);  // "writer" still references it
  EXPECT_THAT(rm.err, HasSubstr("volume is in use"));
  EXPECT_EQ(d.ctl({"start", "writer"}).exit_code, 0);  // its mounts resolve again
  EXPECT_EQ(d.ctl({"wait", "writer"}).out, "0\n");
  auto r = d.ctl({"run", "--rm", "-v", "persist1:/d", "busybox", "cat", "/d/f"});
  EXPECT_EQ(r.out, "kept\n") << r.err;
  EXPECT_EQ(d.ctl({"rm", "writer"}).exit_code, 0);
  EXPECT_EQ(d.ctl({"volume", "rm", "persist1"}).exit_code, 0);
  EXPECT_EQ(d.mounts_under(d.root()), 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
