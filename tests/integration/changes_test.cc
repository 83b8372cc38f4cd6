// diff, commit and export with real containers: what a container writes,
// changes and deletes is listed exactly, survives into a committed image
// (deletions included) without touching the original, stays private to its
// container, and is in the exported tree without whiteout files. Plus an
// image of 100 layers, which only lowerdir+ can mount.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <chrono>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "tests/integration/suite.h"
#include "tests/integration/tar_entries.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class ChangesTest : public DaemonSuite {
 protected:
  // Runs `script` in a new named container to its end (exit 0).
  void run_named(const std::string& name, const std::string& script, const std::string& image = "busybox") {
    auto r = d().ctl({"run", "--name", name, image, "sh", "-c", script});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string diff(const std::string& name) {
    auto r = d().ctl({"diff", name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  Json get_json(const std::string& path, int want = 200) {
    auto c = d().client();
    auto r = c.request("GET", path);
    EXPECT_TRUE(r && r->status == want) << path << ": " << (r ? r->body : r.error().message());
    return r ? Json::parse(r->body, nullptr, false) : Json();
  }
  void rm(const std::string& name) { EXPECT_EQ(d().ctl({"rm", "-f", name}).exit_code, 0); }
};

// The edits most tests make: change, add, delete, and replace a directory
// (rm -rf then mkdir makes an opaque directory in the upper layer).
constexpr const char* kEdits =
    "echo changed >> /etc/passwd; touch /newfile; rm /etc/group; mkdir -p /a/b; echo 1 > /a/b/c; "
    "rm -rf /var; mkdir -p /var/new";
constexpr const char* kEditsDiff =
    "A /a\n"
    "A /a/b\n"
    "A /a/b/c\n"
    "C /etc\n"
    "D /etc/group\n"
    "C /etc/passwd\n"
    "A /newfile\n"
    "C /var\n"
    "A /var/new\n"
    "D /var/tmp\n";

TEST_F(ChangesTest, DiffListsExactlyWhatChanged) {
  run_named("diff1", kEdits);
  EXPECT_EQ(diff("diff1"), kEditsDiff);
  // The API's shape: Path and Kind (0 changed, 1 added, 2 deleted).
  Json j = get_json("/containers/diff1/changes");
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 10u);
  EXPECT_EQ(j[0], Json::parse(R"({"Path":"/a","Kind":1})"));
  EXPECT_EQ(j[3], Json::parse(R"({"Path":"/etc","Kind":0})"));
  EXPECT_EQ(j[4], Json::parse(R"({"Path":"/etc/group","Kind":2})"));
  // A container that changed nothing has no changes.
  run_named("diff2", "true");
  EXPECT_EQ(diff("diff2"), "");
  rm("diff1");
  rm("diff2");
}

TEST_F(ChangesTest, DiffOfARunningContainer) {
  auto r = d().ctl({"run", "-d", "--name", "live", "busybox", "sh", "-c", "touch /tmp/live; rm /bin/ls; sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string out;
  for (int i = 0; i < 500; i++) {  // the script runs on its own time: poll, bounded
    out = diff("live");
    if (out == "C /bin\nD /bin/ls\nC /tmp\nA /tmp/live\n") break;
    usleep(10000);
  }
  EXPECT_EQ(out, "C /bin\nD /bin/ls\nC /tmp\nA /tmp/live\n");
  rm("live");
}

TEST_F(ChangesTest, CommitKeepsChangesAndDeletionsAndLeavesTheImage) {
  run_named("c1", kEdits);
  auto commit = d().ctl({"commit", "-m", "edited", "-a", "Ann <ann@example.com>", "-c", "ENV FOO=bar", "-c",
                         "CMD [\"cat\", \"/etc/passwd\"]", "c1", "edited:v1"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  EXPECT_THAT(commit.out, ::testing::MatchesRegex("sha256:[0-9a-f]{64}\n"));

  // The new image's default command (from -c CMD) sees the change.
  auto cmd = d().ctl({"run", "--rm", "edited:v1"});
  EXPECT_EQ(cmd.exit_code, 0) << cmd.err;
  EXPECT_THAT(cmd.out, HasSubstr("changed\n"));
  auto r = d().ctl({"run", "--rm", "edited:v1", "sh", "-c",
                    "test -e /etc/group && echo group; test -e /var/tmp && echo vartmp; ls /var; cat /a/b/c; "
                    "test -e /newfile && echo newfile; echo $FOO"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "new\n1\nnewfile\nbar\n");
  // A container of the new image starts with no changes of its own.
  run_named("c2", "true", "edited:v1");
  EXPECT_EQ(diff("c2"), "");

  // The original image is untouched.
  auto orig = d().ctl({"run", "--rm", "busybox", "sh", "-c",
                       "test -e /etc/group && echo group; test -e /var/tmp && echo vartmp; test -e /newfile || echo clean"});
  EXPECT_EQ(orig.out, "group\nvartmp\nclean\n");

  Json img = get_json("/images/edited:v1/json");
  Json base = get_json("/images/busybox/json");
  EXPECT_EQ(img["Id"], commit.out.substr(0, commit.out.size() - 1));
  EXPECT_EQ(img["Comment"], "edited");
  EXPECT_EQ(img["Author"], "Ann <ann@example.com>");
  ASSERT_EQ(img["RootFS"]["Layers"].size(), base["RootFS"]["Layers"].size() + 1);
  EXPECT_EQ(img["RootFS"]["Layers"][0], base["RootFS"]["Layers"][0]);
  EXPECT_THAT(img["Config"]["Env"].dump(), HasSubstr("FOO=bar"));
  rm("c1");
  rm("c2");
}

TEST_F(ChangesTest, CommitTakesTheContainersConfig) {
  // Without changes, the image runs what the container ran, with its env.
  auto r = d().ctl({"run", "--name", "cfg", "-e", "GREETING=hi", "-w", "/tmp", "busybox", "sh", "-c",
                    "echo $GREETING from $(pwd)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto commit = d().ctl({"commit", "cfg", "cfgimg"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  auto again = d().ctl({"run", "--rm", "cfgimg"});
  EXPECT_EQ(again.out, "hi from /tmp\n") << again.err;
  // A Config in the request body replaces it (the API, as docker-py sends).
  auto c = d().client();
  auto body = c.request("POST", "/commit?container=cfg&repo=bodyimg", R"({"Cmd":["echo","from body"]})");
  ASSERT_TRUE(body && body->status == 201) << (body ? body->body : body.error().message());
  EXPECT_EQ(d().ctl({"run", "--rm", "bodyimg"}).out, "from body\n");
  rm("cfg");
}

TEST_F(ChangesTest, ContainersOfOneImageDoNotShareWrites) {
  for (const char* n : {"w1", "w2"}) {
    auto r = d().ctl({"run", "-d", "--name", n, "busybox", "sleep", "1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(d().ctl({"exec", "w1", "sh", "-c", "echo one > /shared; rm /etc/group"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"exec", "w2", "sh", "-c", "echo two > /shared"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"exec", "w1", "cat", "/shared"}).out, "one\n");
  EXPECT_EQ(d().ctl({"exec", "w2", "cat", "/shared"}).out, "two\n");
  EXPECT_EQ(d().ctl({"exec", "w2", "test", "-e", "/etc/group"}).exit_code, 0);
  EXPECT_EQ(diff("w1"), "C /etc\nD /etc/group\nA /shared\n");
  EXPECT_EQ(diff("w2"), "A /shared\n");
  // The pause during commit (the default) leaves it running afterwards.
  auto commit = d().ctl({"commit", "w1", "w1img"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  EXPECT_EQ(get_json("/containers/w1/json")["State"]["Status"], "running");
  EXPECT_EQ(d().ctl({"run", "--rm", "w1img", "cat", "/shared"}).out, "one\n");
  rm("w1");
  rm("w2");
}

TEST_F(ChangesTest, CommitPausesOnlyWhenAsked) {
  auto r = d().ctl({"run", "-d", "--name", "pz", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int64_t since = now_ns() / 1000000000 - 1;
  ASSERT_EQ(d().ctl({"commit", "pz", "pz:paused"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"commit", "-p=false", "pz", "pz:live"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"commit", "--pause=false", "pz", "pz:live2"}).exit_code, 0);
  int64_t until = now_ns() / 1000000000 + 1;
  auto c = d().client();
  auto ev = c.request("GET", fmt::format("/events?since={}&until={}&filters={}", since, until,
                                         "%7B%22container%22%3A%5B%22pz%22%5D%7D"));
  ASSERT_TRUE(ev && ev->status == 200);
  std::string actions;
  for (const std::string& line : split(ev->body, '\n'))
    if (!line.empty()) actions += Json::parse(line)["Action"].get<std::string>() + " ";
  EXPECT_EQ(actions, "create start pause unpause commit commit commit ") << ev->body;
  EXPECT_EQ(get_json("/containers/pz/json")["State"]["Status"], "running");
  rm("pz");
}

TEST_F(ChangesTest, ExportIsTheMergedTreeWithoutWhiteouts) {
  run_named("ex", std::string(kEdits) + "; ln -s /newfile /a/link; echo big > /a/b/big");
  std::string file = d().dir() + "/ex.tar";
  auto r = d().ctl({"export", "-o", file, "ex"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bytes = read_file(file, 256 << 20);
  ASSERT_TRUE(bytes.has_value());
  auto entries = tar_entries(*bytes);
  EXPECT_TRUE(entries.count("bin/busybox"));
  EXPECT_EQ(entries["a/b/c"], "1\n");
  EXPECT_EQ(entries["a/link"], "->/newfile");
  EXPECT_THAT(entries["etc/passwd"], HasSubstr("changed\n"));
  EXPECT_TRUE(entries.count("newfile"));
  EXPECT_TRUE(entries.count("var/new/"));
  EXPECT_FALSE(entries.count("etc/group"));
  EXPECT_FALSE(entries.count("var/tmp/"));
  for (const auto& [path, data] : entries) {
    EXPECT_THAT(path, Not(HasSubstr(".wh."))) << path;
    EXPECT_NE(path[0], '/') << path;
  }
  // The same bytes to stdout; and the export of a running container.
  auto piped = d().ctl({"export", "ex"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(tar_entries(piped.out), entries);
  auto live = d().ctl({"run", "-d", "--name", "exlive", "busybox", "sh", "-c", "echo up > /up; sleep 1000"});
  ASSERT_EQ(live.exit_code, 0);
  std::map<std::string, std::string> live_entries;
  for (int i = 0; i < 500 && live_entries["up"] != "up\n"; i++) {
    live_entries = tar_entries(d().ctl({"export", "exlive"}).out);
    if (live_entries["up"] != "up\n") usleep(10000);
  }
  EXPECT_EQ(live_entries["up"], "up\n");
  rm("ex");
  rm("exlive");
}

// An image with nothing but /bin: the runtime's mount points (/dev, /proc,
// /sys) come from the daemon's shared init layer, so the container's upper
// dir gets no mkdir for them and diff and commit do not list them; export,
// like Docker's, has them.
TEST_F(ChangesTest, MountPointsOfAMinimalImageAreNotChanges) {
  std::string stage = d().dir() + "/minimal";
  auto made = run_command({"/bin/sh", "-ec",
                           "mkdir -p " + stage + "/bin && cp /bin/busybox " + stage + "/bin/ && ln -sf busybox " +
                               stage + "/bin/sh && tar -C " + stage + " -cf " + stage + ".tar bin"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(d().ctl({"import", stage + ".tar", "minimal:1"}).exit_code, 0);
  auto r = d().ctl({"run", "--name", "mini", "minimal:1", "sh", "-c", "echo > /proc/self/comm; echo hi > /made"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(diff("mini"), "A /made\n");
  auto upper = run_command({"ls", "-A", d().root() + "/containers/" + get_json("/containers/mini/json").value("Id", "") + "/upper"});
  EXPECT_EQ(upper.out, "made\n");
  auto exported = tar_entries(d().ctl({"export", "mini"}).out);
  for (const char* dir : {"dev/", "proc/", "sys/"}) EXPECT_TRUE(exported.count(dir)) << dir;
  EXPECT_EQ(exported["made"], "hi\n");
  rm("mini");
  (void)remove_tree(stage);
  ::unlink((stage + ".tar").c_str());
  EXPECT_EQ(d().ctl({"rmi", "minimal:1"}).exit_code, 0);
}

TEST_F(ChangesTest, ErrorsAreClear) {
  auto c = d().client();
  auto status = [&](const std::string& method, const std::string& path) {
    auto r = c.request(method, path);
    return r ? r->status : -1;
  };
  EXPECT_EQ(status("GET", "/containers/nope/changes"), 404);
  EXPECT_EQ(status("GET", "/containers/nope/export"), 404);
  EXPECT_EQ(status("POST", "/commit?container=nope"), 404);
  run_named("errs", "true");
  EXPECT_EQ(status("POST", "/commit?container=errs&repo=UPPER"), 400);
  EXPECT_EQ(status("POST", "/commit?container=errs&changes=FROM%20x"), 400);
  EXPECT_EQ(status("POST", "/commit?container=errs&pause=maybe"), 400);
  auto diff_missing = d().ctl({"diff", "nope"});
  EXPECT_EQ(diff_missing.exit_code, 1);
  EXPECT_THAT(diff_missing.err, HasSubstr("No such container: nope"));
  auto bad_flag = d().ctl({"commit", "-p=perhaps", "errs"});
  EXPECT_NE(bad_flag.exit_code, 0);
  EXPECT_EQ(d().ctl({"export", "-o", d().dir() + "/no/such/dir/x.tar", "errs"}).exit_code, 1);
  rm("errs");
  EXPECT_EQ(d().mounts_under(d().root()), 0);
}

// 100 commits, each adding a layer (one deleting a file of an earlier one):
// a container of the top image mounts 101 lower layers, beyond the classic
// one-page "lowerdir=" option string (about 110 bytes per layer path here).
TEST_F(ChangesTest, HundredLayers) {
  // The premise: the classic option would not fit in one page.
  size_t classic_bytes = 101 * (d().root().size() + std::string("/image/layers/").size() + 64 + 1);
  ASSERT_GT(classic_bytes, 4096u);
  auto c = d().client();
  auto call = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = c.request(method, path, body);
    EXPECT_TRUE(r && r->status < 300) << method << " " << path << ": " << (r ? r->body : r.error().message());
    return r && r->status < 300 ? Json::parse(r->body, nullptr, false) : Json();
  };
  auto start = std::chrono::steady_clock::now();
  std::string image = "busybox";
  for (int i = 1; i <= 100; i++) {
    std::string script = fmt::format("mkdir -p /layers && echo {} > /layers/{}", i, i);
    if (i == 50) script += " && rm /layers/10";
    Json create = call("POST", "/containers/create",
                       Json{{"Image", image}, {"Cmd", {"sh", "-c", script}}}.dump());
    std::string id = create.value("Id", "");
    ASSERT_FALSE(id.empty());
    call("POST", "/containers/" + id + "/start");
    ASSERT_EQ(call("POST", "/containers/" + id + "/wait")["StatusCode"], 0);
    std::string tag = fmt::format("layers:{}", i);
    call("POST", fmt::format("/commit?container={}&repo=layers&tag={}", id, i));
    call("DELETE", "/containers/" + id);
    image = tag;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ measure  ] 100 x (create, start, wait, commit, rm): %.1f s\n", secs);
  Json img = get_json("/images/layers:100/json");
  EXPECT_EQ(img["RootFS"]["Layers"].size(), 101u);
  auto r = d().ctl({"run", "--rm", "layers:100", "sh", "-c",
                    "ls /layers | wc -l; cat /layers/1 /layers/100; test -e /layers/10 || echo gone"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "99\n1\n100\ngone\n");
  EXPECT_EQ(d().mounts_under(d().root()), 0);
}

}  // namespace
}  // namespace berth::test
