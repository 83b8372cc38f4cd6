// The real docker CLI against a real berthd: the commands of the foundation
// issue, exactly as a user types them. Skipped where no docker CLI exists.
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DockerCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!is_root() || !have_program("docker")) return;
    daemon_ = std::make_unique<TestDaemon>();
    std::string err;
    if (!daemon_->start(&err) || !daemon_->import_busybox(&err)) {
      error_ = err;
      daemon_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0) << daemon_->log();
    }
    daemon_.reset();
  }
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine";
    ASSERT_TRUE(daemon_) << error_;
  }
  CommandResult docker(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "docker");
    return run_command(args, input,
                       {"DOCKER_HOST=" + daemon_->host(), "DOCKER_CONFIG=" + daemon_->dir() + "/docker-config"});
  }
  static inline std::unique_ptr<TestDaemon> daemon_;
  static inline std::string error_;
};

TEST_F(DockerCli, Version) {
  auto r = docker({"version", "--format", "{{.Server.APIVersion}} {{.Server.Version}}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1.50"));
}

TEST_F(DockerCli, RunRm) {
  auto r = docker({"run", "--rm", "busybox", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  auto code = docker({"run", "--rm", "busybox", "sh", "-c", "exit 7"});
  EXPECT_EQ(code.exit_code, 7);
  auto missing = docker({"run", "--rm", "busybox", "/bin/nope"});
  EXPECT_EQ(missing.exit_code, 127) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("no such file or directory"));
  EXPECT_EQ(docker({"ps", "-aq"}).out, "");
}

TEST_F(DockerCli, DetachedLogsPsStopRm) {
  auto run = docker({"run", "-d", "--name", "x", "busybox", "sh", "-c", "echo a; echo b >&2; sleep 1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.size(), 65u);  // 64 hex and a newline
  // The output is in the log once it is read; poll, bounded.
  CommandResult logs;
  for (int i = 0; i < 500; i++) {
    logs = docker({"logs", "x"});
    if (logs.out == "a\n" && logs.err == "b\n") break;
    usleep(10000);
  }
  EXPECT_EQ(logs.out, "a\n");
  EXPECT_EQ(logs.err, "b\n");
  auto ps = docker({"ps"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_THAT(ps.out, HasSubstr("x"));
  EXPECT_THAT(ps.out, HasSubstr("Up "));
  auto stop = docker({"stop", "-t", "1", "x"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(stop.out, "x\n");
  auto psa = docker({"ps", "-a"});
  EXPECT_THAT(psa.out, HasSubstr("Exited (137)"));
  auto rm = docker({"rm", "x"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_THAT(docker({"ps", "-a"}).out, Not(HasSubstr(" x\n")));
  auto gone = docker({"rm", "x"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("No such container"));
}

TEST_F(DockerCli, ImagesImportInspect) {
  auto imp = docker({"import", BERTH_BUSYBOX_TAR, "imported:v1"});
  EXPECT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_EQ(imp.out.substr(0, 7), "sha256:");
  auto images = docker({"images"});
  EXPECT_EQ(images.exit_code, 0) << images.err;
  EXPECT_THAT(images.out, HasSubstr("busybox"));
  EXPECT_THAT(images.out, HasSubstr("imported"));
  EXPECT_THAT(images.out, HasSubstr("v1"));
  auto run = docker({"run", "--rm", "imported:v1", "echo", "from import"});
  EXPECT_EQ(run.out, "from import\n") << run.err;
  auto ci = docker({"create", "--name", "insp", "busybox", "true"});
  ASSERT_EQ(ci.exit_code, 0) << ci.err;
  auto insp = docker({"inspect", "--format", "{{.Name}} {{.State.Status}} {{.Config.Image}}", "insp"});
  EXPECT_EQ(insp.out, "/insp created busybox\n") << insp.err;
  auto img = docker({"inspect", "--format", "{{.RepoTags}}", "imported:v1"});
  EXPECT_EQ(img.out, "[imported:v1]\n") << img.err;
  auto none = docker({"inspect", "nosuchthing"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(docker({"rm", "insp"}).exit_code, 0);
}

TEST_F(DockerCli, ResourceLimitsStatsUpdatePause) {
  auto oom = docker({"run", "--name", "oom", "-m", "32m", "busybox", "sh", "-c",
                     "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(oom.exit_code, 137) << oom.err;
  auto killed = docker({"inspect", "--format", "{{.State.OOMKilled}} {{.HostConfig.Memory}}", "oom"});
  EXPECT_EQ(killed.out, "true 33554432\n") << killed.err;
  EXPECT_EQ(docker({"rm", "oom"}).exit_code, 0);

  auto run = docker({"run", "-d", "--name", "lim", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "busybox",
                     "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto stats = docker({"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "lim"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("lim "));
  EXPECT_THAT(stats.out, HasSubstr("/ 64MiB 1"));
  auto upd = docker({"update", "--memory", "128m", "--memory-swap", "256m", "lim"});
  EXPECT_EQ(upd.exit_code, 0) << upd.err;
  auto mem = docker({"inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "lim"});
  EXPECT_EQ(mem.out, "134217728 500000000 50\n") << mem.err;
  EXPECT_EQ(docker({"pause", "lim"}).exit_code, 0);
  EXPECT_EQ(docker({"inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "lim"}).out, "paused true\n");
  EXPECT_EQ(docker({"unpause", "lim"}).exit_code, 0);
  EXPECT_EQ(docker({"inspect", "--format", "{{.State.Status}}", "lim"}).out, "running\n");
  auto top = docker({"top", "lim"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_THAT(top.out, HasSubstr("sleep 1000"));
  EXPECT_EQ(docker({"rm", "-f", "lim"}).exit_code, 0);
}

TEST_F(DockerCli, Exec) {
  auto run = docker({"run", "-d", "--name", "ex", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto hi = docker({"exec", "ex", "echo", "hi"});
  EXPECT_EQ(hi.exit_code, 0) << hi.err;
  EXPECT_EQ(hi.out, "hi\n");
  auto code = docker({"exec", "-e", "A=5", "-w", "/tmp", "ex", "sh", "-c", "echo $A $(pwd); exit 3"});
  EXPECT_EQ(code.exit_code, 3) << code.err;
  EXPECT_EQ(code.out, "5 /tmp\n");
  auto missing = docker({"exec", "ex", "nope"});
  EXPECT_EQ(missing.exit_code, 127) << missing.err;
  EXPECT_EQ(docker({"exec", "-d", "ex", "sleep", "5"}).exit_code, 0);
  EXPECT_EQ(docker({"stop", "-t", "0", "ex"}).exit_code, 0);
  auto stopped = docker({"exec", "ex", "true"});
  EXPECT_NE(stopped.exit_code, 0);
  EXPECT_THAT(stopped.err, HasSubstr("is not running"));
  EXPECT_EQ(docker({"rm", "ex"}).exit_code, 0);
}

TEST_F(DockerCli, RunInteractivePipesStdin) {
  auto r = docker({"run", "-i", "--rm", "busybox", "cat"}, "data\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "data\n");
  std::string input(10 << 20, 'z');
  auto wc = docker({"run", "-i", "--rm", "busybox", "sh", "-c", "cat >/f; wc -c </f"}, input);
  EXPECT_EQ(wc.exit_code, 0) << wc.err;
  EXPECT_EQ(wc.out, "10485760\n");
}

TEST_F(DockerCli, VolumeCreateLsRm) {
  auto c = docker({"volume", "create", "--label", "team=a", "dvol"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "dvol\n");
  auto ls = docker({"volume", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("DRIVER"));
  EXPECT_THAT(ls.out, HasSubstr("dvol"));
  EXPECT_EQ(docker({"volume", "ls", "-q", "--filter", "label=team=a"}).out, "dvol\n");
  auto insp = docker({"volume", "inspect", "--format", "{{.Driver}} {{.Name}} {{.Labels.team}}", "dvol"});
  EXPECT_EQ(insp.out, "local dvol a\n") << insp.err;
  auto rm = docker({"volume", "rm", "dvol"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, "dvol\n");
  auto gone = docker({"volume", "inspect", "dvol"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("no such volume"));
}

TEST_F(DockerCli, RunWithVolumesAndBinds) {
  auto w = docker({"run", "--rm", "-v", "dshare:/data", "busybox", "sh", "-c", "echo via-docker > /data/f"});
  EXPECT_EQ(w.exit_code, 0) << w.err;
  auto r = docker({"run", "--rm", "-v", "dshare:/data:ro", "busybox", "sh", "-c", "cat /data/f; touch /data/g"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "via-docker\n");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  std::string host = daemon_->dir() + "/bind-src";
  ASSERT_EQ(::mkdir(host.c_str(), 0755), 0);
  auto b = docker({"run", "--rm", "-v", host + ":/b", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "--read-only",
                   "busybox", "sh", "-c", "echo x > /b/f && touch /t/ok && grep -c ' /t tmpfs' /proc/mounts"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "1\n");
  EXPECT_EQ(::access((host + "/f").c_str(), F_OK), 0);
  auto busy = docker({"create", "--name", "vbusy", "-v", "dshare:/d", "busybox", "true"});
  ASSERT_EQ(busy.exit_code, 0) << busy.err;
  auto in_use = docker({"volume", "rm", "dshare"});
  EXPECT_NE(in_use.exit_code, 0);
  EXPECT_THAT(in_use.err, HasSubstr("volume is in use"));
  EXPECT_EQ(docker({"rm", "vbusy"}).exit_code, 0);
  EXPECT_EQ(docker({"volume", "rm", "dshare"}).exit_code, 0);
  auto anon = docker({"run", "-d", "--name", "anon", "-v", "/cache", "busybox", "true"});
  ASSERT_EQ(anon.exit_code, 0) << anon.err;
  EXPECT_EQ(docker({"wait", "anon"}).out, "0\n");
  auto name = docker({"inspect", "--format", "{{(index .Mounts 0).Name}}", "anon"});
  EXPECT_EQ(name.out.size(), 65u) << name.err;
  EXPECT_EQ(docker({"rm", "-v", "anon"}).exit_code, 0);
  EXPECT_THAT(docker({"volume", "ls", "-q"}).out, Not(HasSubstr(name.out.substr(0, 64))));
}

TEST_F(DockerCli, DiffCommitExport) {
  auto run = docker({"run", "--name", "dce", "busybox", "sh", "-c", "echo x > /newfile; rm /etc/group"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto diff = docker({"diff", "dce"});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_EQ(diff.out, "C /etc\nD /etc/group\nA /newfile\n");
  auto commit = docker({"commit", "-m", "via docker", "-c", "ENV FROM_CLI=1", "dce", "dceimg:v1"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  EXPECT_THAT(commit.out, ::testing::MatchesRegex("sha256:[0-9a-f]{64}\n"));
  auto check = docker({"run", "--rm", "dceimg:v1", "sh", "-c",
                       "cat /newfile; test -e /etc/group || echo gone; echo $FROM_CLI"});
  EXPECT_EQ(check.out, "x\ngone\n1\n") << check.err;
  EXPECT_THAT(docker({"images", "--format", "{{.Repository}}:{{.Tag}}"}).out, HasSubstr("dceimg:v1"));
  auto inspect = docker({"image", "inspect", "--format", "{{.Comment}} {{len .RootFS.Layers}}", "dceimg:v1"});
  EXPECT_EQ(inspect.out, "via docker 2\n") << inspect.err;
  std::string tar = daemon_->dir() + "/dce.tar";
  auto exp = docker({"export", "-o", tar, "dce"});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto list = run_command({"tar", "-tf", tar});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("bin/busybox\n"));
  EXPECT_THAT(list.out, HasSubstr("newfile\n"));
  EXPECT_THAT(list.out, Not(HasSubstr("etc/group")));
  EXPECT_THAT(list.out, Not(HasSubstr(".wh.")));
  auto piped = docker({"export", "dce"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  struct stat st;
  ASSERT_EQ(::stat(tar.c_str(), &st), 0);
  EXPECT_EQ(piped.out.size(), size_t(st.st_size));
  EXPECT_EQ(docker({"rm", "dce"}).exit_code, 0);
}

// docker cp in and out of a running and a stopped container (the CLI's
// HEAD stat, GET and PUT with noOverwriteDirNonDir, and "-" for tar).
TEST_F(DockerCli, Cp) {
  std::string dir = daemon_->dir() + "/cp";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(run_command({"sh", "-c", "echo local > " + dir + "/in.txt; mkdir " + dir + "/tree; echo t > " + dir +
                                         "/tree/t"}).exit_code, 0);
  auto run = docker({"run", "-d", "--name", "cpl", "busybox", "sh", "-c", "echo live > /live; sleep 1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (int i = 0; i < 500 && docker({"exec", "cpl", "test", "-e", "/live"}).exit_code != 0; i++) usleep(10000);
  auto out = docker({"cp", "cpl:/live", dir + "/live"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(run_command({"cat", dir + "/live"}).out, "live\n");
  auto in = docker({"cp", dir + "/in.txt", "cpl:/tmp/"});
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(docker({"exec", "cpl", "cat", "/tmp/in.txt"}).out, "local\n");
  auto tree = docker({"cp", dir + "/tree", "cpl:/tree"});
  EXPECT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_EQ(docker({"exec", "cpl", "cat", "/tree/t"}).out, "t\n");
  auto tar = docker({"cp", "cpl:/tree", "-"});
  EXPECT_EQ(tar.exit_code, 0) << tar.err;
  EXPECT_THAT(tar.out, HasSubstr("tree/t"));
  auto missing = docker({"cp", "cpl:/nope", dir});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("Could not find the file /nope in container cpl"));
  EXPECT_EQ(docker({"rm", "-f", "cpl"}).exit_code, 0);

  ASSERT_EQ(docker({"run", "--name", "cps", "busybox", "sh", "-c", "echo stopped > /s"}).exit_code, 0);
  auto sout = docker({"cp", "cps:/s", dir + "/s"});
  EXPECT_EQ(sout.exit_code, 0) << sout.err;
  EXPECT_EQ(run_command({"cat", dir + "/s"}).out, "stopped\n");
  auto sin = docker({"cp", dir + "/in.txt", "cps:/in.txt"});
  EXPECT_EQ(sin.exit_code, 0) << sin.err;
  EXPECT_EQ(docker({"diff", "cps"}).out, "A /in.txt\nA /s\n");
  EXPECT_EQ(docker({"rm", "cps"}).exit_code, 0);
}

// Image management through the docker CLI: tag, save | load, history,
// rmi (with its conflict while a container uses the image), image prune
// and system df.
TEST_F(DockerCli, ImageManagement) {
  ASSERT_EQ(docker({"run", "--name", "imgsrc", "busybox", "sh", "-c", "echo saved > /f"}).exit_code, 0);
  auto commit = docker({"commit", "imgsrc", "mine:v1"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  std::string id = commit.out.substr(0, commit.out.find('\n'));
  ASSERT_EQ(docker({"rm", "imgsrc"}).exit_code, 0);
  auto tag = docker({"tag", "mine:v1", "mine:v2"});
  EXPECT_EQ(tag.exit_code, 0) << tag.err;
  EXPECT_EQ(docker({"image", "inspect", "--format", "{{.Id}}", "mine:v2"}).out, id + "\n");

  auto hist = docker({"history", "--no-trunc", "--format", "{{.ID}}", "mine:v1"});
  EXPECT_EQ(hist.exit_code, 0) << hist.err;
  EXPECT_EQ(hist.out.substr(0, hist.out.find('\n')), id);
  EXPECT_THAT(hist.out, HasSubstr("<missing>"));

  std::string tar = daemon_->dir() + "/mine.tar";
  std::vector<std::string> env = {"DOCKER_HOST=" + daemon_->host(), "DOCKER_CONFIG=" + daemon_->dir() + "/docker-config"};
  auto save = run_command({"sh", "-c", "docker save mine:v1 > " + tar}, "", env);
  ASSERT_EQ(save.exit_code, 0) << save.err;
  auto rmi = docker({"rmi", "mine:v1", "mine:v2"});
  EXPECT_EQ(rmi.exit_code, 0) << rmi.err;
  EXPECT_THAT(rmi.out, HasSubstr("Untagged: mine:v2\nDeleted: " + id));
  EXPECT_NE(docker({"image", "inspect", id}).exit_code, 0);
  auto piped = run_command({"sh", "-c", "docker save busybox | docker load && docker load -i " + tar}, "", env);
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(piped.out, HasSubstr("Loaded image: busybox:latest"));
  EXPECT_THAT(piped.out, HasSubstr("Loaded image: mine:v1"));
  EXPECT_EQ(docker({"image", "inspect", "--format", "{{.Id}}", "mine:v1"}).out, id + "\n");
  EXPECT_EQ(docker({"run", "--rm", "mine:v1", "cat", "/f"}).out, "saved\n");

  ASSERT_EQ(docker({"create", "--name", "imguser", "mine:v1", "true"}).exit_code, 0);
  auto busy = docker({"rmi", "mine:v1"});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_THAT(busy.err, HasSubstr("conflict: unable to remove repository reference \"mine:v1\" (must force)"));
  EXPECT_EQ(docker({"rm", "imguser"}).exit_code, 0);
  EXPECT_EQ(docker({"rmi", "mine:v1"}).exit_code, 0);

  auto df = docker({"system", "df"});
  EXPECT_EQ(df.exit_code, 0) << df.err;
  EXPECT_THAT(df.out, HasSubstr("Images"));
  EXPECT_THAT(df.out, HasSubstr("Local Volumes"));
  auto prune = docker({"image", "prune", "-f"});
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_THAT(prune.out, HasSubstr("Total reclaimed space:"));
}

// The network issue's docker CLI commands: network create/ls/inspect/
// connect/disconnect/rm/prune, run -p, port, inspect -f of the address.
TEST_F(DockerCli, Networks) {
  auto created = docker({"network", "create", "--subnet", "10.211.0.0/24", "--label", "team=a", "clinet"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto ls = docker({"network", "ls", "--format", "{{.Name}} {{.Driver}}"});
  EXPECT_THAT(ls.out, HasSubstr("bridge bridge"));
  EXPECT_THAT(ls.out, HasSubstr("clinet bridge"));
  EXPECT_THAT(ls.out, HasSubstr("host host"));
  EXPECT_THAT(ls.out, HasSubstr("none null"));
  auto subnet = docker({"network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}} {{.Labels.team}}", "clinet"});
  EXPECT_EQ(subnet.out, "10.211.0.0/24 a\n") << subnet.err;

  auto web = docker({"run", "-d", "--name", "cliweb", "-p", "18080:80", "busybox", "sh", "-c",
                     "mkdir /www && echo served > /www/index.html && exec httpd -f -p 80 -h /www"});
  ASSERT_EQ(web.exit_code, 0) << web.err;
  auto ip = docker({"inspect", "-f", "{{.NetworkSettings.IPAddress}}", "cliweb"});
  EXPECT_THAT(ip.out, ::testing::StartsWith("10.88.")) << ip.err;
  auto port = docker({"port", "cliweb"});
  EXPECT_THAT(port.out, HasSubstr("80/tcp -> 0.0.0.0:18080")) << port.err;
  // From the daemon's host side (its network namespace), through the published port.
  CommandResult got;
  for (int i = 0; i < 50; i++) {
    got = daemon_->host_command({"curl", "-s", "-m", "5", "http://127.0.0.1:18080/"});
    if (got.exit_code == 0) break;
    usleep(100000);
  }
  EXPECT_EQ(got.out, "served\n") << got.err;

  ASSERT_EQ(docker({"network", "connect", "clinet", "cliweb"}).exit_code, 0);
  auto on = docker({"inspect", "-f", "{{.NetworkSettings.Networks.clinet.IPAddress}}", "cliweb"});
  EXPECT_THAT(on.out, ::testing::StartsWith("10.211.0.")) << on.err;
  auto eth1 = docker({"exec", "cliweb", "ip", "-4", "-o", "addr", "show", "eth1"});
  EXPECT_THAT(eth1.out, HasSubstr("10.211.0.")) << eth1.err;
  auto by_name = docker({"run", "--rm", "--network", "clinet", "busybox", "wget", "-q", "-O", "-", "http://cliweb/"});
  EXPECT_EQ(by_name.out, "served\n") << by_name.err;
  auto busy = docker({"network", "rm", "clinet"});
  EXPECT_NE(busy.exit_code, 0);
  ASSERT_EQ(docker({"network", "disconnect", "clinet", "cliweb"}).exit_code, 0);
  EXPECT_NE(docker({"exec", "cliweb", "ip", "link", "show", "eth1"}).exit_code, 0);
  EXPECT_EQ(docker({"rm", "-f", "cliweb"}).exit_code, 0);
  EXPECT_EQ(docker({"network", "rm", "clinet"}).exit_code, 0);
  ASSERT_EQ(docker({"network", "create", "unused"}).exit_code, 0);
  auto pruned = docker({"network", "prune", "-f"});
  EXPECT_THAT(pruned.out, HasSubstr("unused")) << pruned.err;
  EXPECT_THAT(docker({"network", "ls"}).out, Not(HasSubstr("unused")));
}

}  // namespace
}  // namespace berth::test
