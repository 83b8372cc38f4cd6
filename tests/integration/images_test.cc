// Image management with a real daemon: save/rmi/load round trips to the same
// image ID, the saved tar's manifest.json and blob digests are right, rmi
// refuses while a container uses an image (and what -f does), rmi frees
// only layers no other image uses, prune, history, a tampered load tar is
// refused without changing the store, a hand-made OCI layout loads and
// runs, and so do images made by other tools: an OCI layout built by umoci
// and the docker-archive and oci-archive tars skopeo converts it to (both
// installed by tools/setup; the test skips where they are missing).
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <unistd.h>

#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "fs/digest.h"
#include "fs/tar_writer.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Path -> content of the regular files of a tar file.
std::map<std::string, std::string> read_tar(const std::string& path) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 65536), ARCHIVE_OK) << archive_error_string(a);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string data;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, size_t(n));
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

void write_tar(const std::string& path, const std::map<std::string, std::string>& files) {
  auto w = fs::TarWriter::create(path);
  ASSERT_TRUE(w) << w.error().message();
  for (const auto& [name, data] : files) ASSERT_TRUE(w->add_file(name, data));
  ASSERT_TRUE(w->close());
}

std::set<std::string> list_dir(const std::string& path) {
  std::set<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string n = e->d_name; n != "." && n != "..") out.insert(n);
  ::closedir(d);
  return out;
}

class ImagesTest : public DaemonSuite {
 protected:
  void SetUp() override {
    DaemonSuite::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    tmp_ = d().dir() + "/images-test";
    ASSERT_TRUE(make_dirs(tmp_));
  }
  void TearDown() override { (void)remove_tree(tmp_); }

  CommandResult ctl(const std::vector<std::string>& args) { return d().ctl(args); }
  void ok(const std::vector<std::string>& args) {
    auto r = ctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A new image on top of busybox with /f = `content`, tagged `tag`.
  std::string commit_image(const std::string& tag, const std::string& content, const std::string& from = "busybox") {
    std::string name = "mk-" + std::to_string(counter_++);
    auto r = ctl({"run", "--name", name, from, "sh", "-c", "echo " + content + " > /f"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = ctl({"commit", "-m", "made " + content, name, tag});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ctl({"rm", name}).exit_code, 0);
    return trim(r.out);
  }
  std::string image_id(const std::string& ref) {
    auto c = d().client();
    auto r = c.request("GET", "/images/" + ref + "/json");
    if (!r || r->status != 200) return "";
    return Json::parse(r->body).value("Id", "");
  }
  std::set<std::string> layers() { return list_dir(d().root() + "/image/layers"); }
  std::set<std::string> blobs() { return list_dir(d().root() + "/image/blobs/sha256"); }
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  std::string tmp_;
  static inline int counter_ = 0;
};

TEST_F(ImagesTest, SaveRmiLoadRoundTrip) {
  std::string id = commit_image("saved:v1", "round-trip");
  ASSERT_FALSE(id.empty());
  std::string tar = tmp_ + "/saved.tar";
  ok({"save", "-o", tar, "saved:v1"});

  // manifest.json names the config and layers by digest, and every blob's
  // content hashes to its name.
  auto files = read_tar(tar);
  ASSERT_TRUE(files.count("manifest.json"));
  Json m = Json::parse(files["manifest.json"]);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["Config"], "blobs/sha256/" + id.substr(7));
  EXPECT_EQ(m[0]["RepoTags"], Json::array({"saved:v1"}));
  ASSERT_EQ(m[0]["Layers"].size(), 2u);  // busybox's layer and the commit's
  Json config = Json::parse(files[m[0]["Config"].get<std::string>()]);
  for (size_t i = 0; i < 2; i++) {
    std::string name = m[0]["Layers"][i];
    ASSERT_TRUE(files.count(name)) << name;
    EXPECT_EQ(fs::sha256_digest(files[name]), "sha256:" + name.substr(13));
    EXPECT_EQ(fs::sha256_digest(files[name]), config["rootfs"]["diff_ids"][i]);  // stored uncompressed
  }
  for (const auto& [name, data] : files) {
    if (name.rfind("blobs/sha256/", 0) == 0) {
      EXPECT_EQ(fs::sha256_digest(data), "sha256:" + name.substr(13));
    }
  }
  // The OCI layout inside, as Docker 25+ writes it.
  EXPECT_EQ(files["oci-layout"], R"({"imageLayoutVersion":"1.0.0"})");
  Json index = Json::parse(files["index.json"]);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"], "docker.io/library/saved:v1");
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "v1");

  auto before = layers();
  auto r = ctl({"rmi", "saved:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Untagged: saved:v1\nDeleted: " + id + "\n"));
  EXPECT_EQ(image_id(id), "");
  EXPECT_EQ(layers().size(), before.size() - 1);  // the commit's layer; busybox's stays
  EXPECT_TRUE(blobs().count(id.substr(7)) == 0);

  r = ctl({"load", "-i", tar});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: saved:v1\n");
  EXPECT_EQ(image_id("saved:v1"), id);
  EXPECT_EQ(layers(), before);
  r = ctl({"run", "--rm", "saved:v1", "cat", "/f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "round-trip\n");
  ok({"rmi", "saved:v1"});
}

TEST_F(ImagesTest, RmiRefusesWhileAContainerUsesTheImage) {
  std::string id = commit_image("inuse:1", "used");
  ok({"create", "--name", "user1", "inuse:1", "true"});
  auto c = d().client();
  auto r = c.request("DELETE", "/images/inuse:1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_THAT(r->body, HasSubstr("conflict: unable to remove repository reference \\\"inuse:1\\\" (must force) - "
                                 "container "));
  r = c.request("DELETE", "/images/" + id);
  EXPECT_EQ(r->status, 409);
  EXPECT_THAT(r->body, HasSubstr("(must be forced) - image is being used by stopped container"));
  // Forced: the tag goes, the image stays for its container.
  r = c.request("DELETE", "/images/inuse:1?force=1");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body), Json::parse(R"([{"Untagged":"inuse:1"}])"));
  EXPECT_EQ(image_id(id), id);
  ok({"start", "user1"});  // still runs from the untagged image
  ok({"wait", "user1"});

  // A running container's image cannot be deleted, even forced.
  ok({"run", "-d", "--name", "user2", id, "sleep", "1000"});
  r = c.request("DELETE", "/images/" + id + "?force=1");
  EXPECT_EQ(r->status, 409);
  EXPECT_THAT(r->body, HasSubstr("(cannot be forced) - image is being used by running container"));
  ok({"rm", "-f", "user2"});

  // A dangling image a container uses is not pruned; once unused it is.
  auto p = ctl({"image", "prune", "-f"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(image_id(id), id);
  p = ctl({"container", "prune", "-f"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("Deleted Containers:\n"));
  EXPECT_EQ(ctl({"inspect", "user1"}).exit_code, 1);
  p = ctl({"image", "prune", "-f"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("deleted: " + id));
  EXPECT_EQ(image_id(id), "");
  // busybox is tagged: prune without -a keeps it.
  EXPECT_NE(image_id("busybox"), "");
}

TEST_F(ImagesTest, RmiFreesOnlyLayersNoOtherImageUses) {
  auto base = layers();
  std::string parent = commit_image("parent:1", "p");
  std::string child = commit_image("child:1", "c", "parent:1");
  EXPECT_EQ(layers().size(), base.size() + 2);
  // Another tag: rmi by that name only untags.
  ok({"tag", "parent:1", "parent:2"});
  auto r = ctl({"rmi", "parent:2"});
  EXPECT_EQ(r.out, "Untagged: parent:2\n");
  EXPECT_EQ(image_id("parent:1"), parent);
  // The parent goes, its layer stays: the child is built on it.
  r = ctl({"rmi", "parent:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Untagged: parent:1\nDeleted: " + parent + "\n");
  EXPECT_EQ(layers().size(), base.size() + 2);
  r = ctl({"run", "--rm", "child:1", "cat", "/f"});
  EXPECT_EQ(r.out, "c\n");
  r = ctl({"rmi", "child:1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Deleted: " + child + "\nDeleted: sha256:"));  // and two layers
  EXPECT_EQ(layers(), base);
  // Unknown and malformed names.
  auto c = d().client();
  EXPECT_EQ(c.request("DELETE", "/images/nope:1")->status, 404);
  EXPECT_EQ(c.request("POST", "/images/busybox/tag?repo=Bad")->status, 400);
  EXPECT_EQ(c.request("POST", "/images/nope/tag?repo=x")->status, 404);
  EXPECT_EQ(c.request("POST", "/images/busybox/tag?repo=x&tag=y")->status, 201);
  ok({"rmi", "x:y"});
}

TEST_F(ImagesTest, HistoryOfACommittedImage) {
  std::string id = commit_image("hist:1", "h");
  auto c = d().client();
  auto r = c.request("GET", "/images/hist:1/history");
  ASSERT_TRUE(r && r->status == 200);
  Json h = Json::parse(r->body);
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h[0]["Id"], id);
  EXPECT_EQ(h[0]["Tags"], Json::array({"hist:1"}));
  EXPECT_EQ(h[0]["Comment"], "made h");
  EXPECT_GT(h[0]["Size"].get<int64_t>(), 0);
  EXPECT_EQ(h[1]["Id"], "<missing>");
  EXPECT_TRUE(h[1]["Tags"].is_null());
  for (const char* key : {"Created", "CreatedBy", "Size", "Comment"}) EXPECT_TRUE(h[1].contains(key)) << key;
  auto q = ctl({"history", "-q", "hist:1"});
  EXPECT_EQ(q.out.substr(0, 13), id.substr(7, 12) + "\n");
  EXPECT_THAT(q.out, HasSubstr("<missing>\n"));
  ok({"rmi", "hist:1"});
}

TEST_F(ImagesTest, TamperedBlobIsRefusedAndTheStoreIsUnchanged) {
  std::string id = commit_image("tamper:1", "t");
  std::string tar = tmp_ + "/t.tar";
  ok({"save", "-o", tar, "tamper:1"});
  ok({"rmi", "tamper:1"});
  auto files = read_tar(tar);
  Json m = Json::parse(files["manifest.json"]);
  std::string layer = m[0]["Layers"][1];
  files[layer][600] ^= 1;  // inside the first file's data
  std::string bad = tmp_ + "/bad.tar";
  write_tar(bad, files);

  auto layers_before = layers();
  auto blobs_before = blobs();
  auto r = ctl({"load", "-i", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("blob sha256:" + layer.substr(13) + " is corrupt"));
  EXPECT_EQ(layers(), layers_before);
  EXPECT_EQ(blobs(), blobs_before);
  EXPECT_EQ(image_id("tamper:1"), "");
  EXPECT_EQ(image_id(id), "");
  // Not an archive at all.
  write_tar(bad, {{"hello", "world"}});
  r = ctl({"load", "-i", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("neither manifest.json nor index.json"));
}

// An OCI image layout made by hand (no skopeo/umoci here): busybox's layer
// under a new config, tagged through the containerd annotation.
TEST_F(ImagesTest, OciLayoutLoadsAndRuns) {
  std::string tar = tmp_ + "/bb.tar";
  ok({"save", "-o", tar, "busybox"});
  auto saved = read_tar(tar);
  Json sm = Json::parse(saved["manifest.json"]);
  std::string layer = saved[sm[0]["Layers"][0].get<std::string>()];
  std::string layer_digest = fs::sha256_digest(layer);
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"created", "2024-01-02T03:04:05Z"},
                 {"config", {{"Cmd", {"echo", "from oci"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}},
                 {"history", {{{"created", "2024-01-02T03:04:05Z"}, {"created_by", "hand"}}}}};
  std::string config_text = config.dump();
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", fs::sha256_digest(config_text)}, {"size", config_text.size()}}},
                   {"layers", {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                {"digest", layer_digest}, {"size", layer.size()}}}}};
  std::string manifest_text = manifest.dump();
  Json index = {{"schemaVersion", 2},
                {"manifests", {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                {"digest", fs::sha256_digest(manifest_text)},
                                {"size", manifest_text.size()},
                                {"annotations", {{"io.containerd.image.name", "docker.io/library/ocitest:1"}}}}}}};
  auto blob = [](const std::string& data) { return "blobs/sha256/" + fs::sha256_digest(data).substr(7); };
  std::string oci = tmp_ + "/oci.tar";
  write_tar(oci, {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
                  {"index.json", index.dump()},
                  {blob(layer), layer},
                  {blob(config_text), config_text},
                  {blob(manifest_text), manifest_text}});
  auto r = ctl({"load", "-i", oci});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: ocitest:1\n");
  EXPECT_EQ(image_id("ocitest:1"), fs::sha256_digest(config_text));
  r = ctl({"run", "--rm", "ocitest:1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from oci\n");
  ok({"rmi", "ocitest:1"});
}

// An image no berth code made: umoci builds an OCI layout from a rootfs
// holding the host's busybox-static, skopeo converts it to a docker-archive
// and an oci-archive. All three load and run; they share one config, so one
// image ID.
TEST_F(ImagesTest, UmociAndSkopeoImagesLoadAndRun) {
  if (!have_program("umoci") || !have_program("skopeo"))
    GTEST_SKIP() << "umoci or skopeo not installed (tools/setup installs both)";
  auto sh = [&](const std::string& script) {
    auto r = run_command({"/bin/sh", "-ec", "cd " + tmp_ + " && " + script});
    EXPECT_EQ(r.exit_code, 0) << script << "\n" << r.out << r.err;
    return r;
  };
  sh("umoci init --layout lay && umoci new --image lay:latest && umoci unpack --image lay:latest bundle && "
     "mkdir -p bundle/rootfs/bin && cp /bin/busybox bundle/rootfs/bin/busybox && "
     "ln -s busybox bundle/rootfs/bin/sh && ln -s busybox bundle/rootfs/bin/echo && "
     "umoci repack --image lay:latest bundle && "
     "umoci config --image lay:latest --config.cmd echo --config.cmd 'made by umoci' && "
     "tar -C lay -cf lay.tar . && "
     "skopeo copy -q oci:lay:latest docker-archive:docker.tar:umoci/bb:v1 && "
     "skopeo copy -q oci:lay:latest oci-archive:oci.tar:skopeo/bb:v2");
  if (HasFailure()) return;

  // umoci's index names the manifest only "latest": no repository, so the
  // image loads untagged, as with docker.
  auto r = ctl({"load", "-i", tmp_ + "/lay.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, ::testing::StartsWith("Loaded image ID: sha256:"));
  std::string id = trim(r.out.substr(std::string("Loaded image ID: ").size()));
  r = ctl({"run", "--rm", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "made by umoci\n");

  r = ctl({"load", "-i", tmp_ + "/docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: umoci/bb:v1\n");
  EXPECT_EQ(image_id("umoci/bb:v1"), id);

  r = ctl({"load", "-i", tmp_ + "/oci.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: skopeo/bb:v2\n");
  EXPECT_EQ(image_id("skopeo/bb:v2"), id);
  r = ctl({"run", "--rm", "skopeo/bb:v2", "sh", "-c", "for f in /bin/*; do echo $f; done"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/bin/busybox\n/bin/echo\n/bin/sh\n");

  ok({"rmi", "umoci/bb:v1"});
  ok({"rmi", "skopeo/bb:v2"});
  if (!image_id(id).empty()) ok({"rmi", id});
  EXPECT_EQ(image_id(id), "");
}

TEST_F(ImagesTest, SystemDf) {
  ok({"create", "--name", "dfc", "busybox", "true"});
  auto c = d().client();
  auto r = c.request("GET", "/system/df");
  ASSERT_TRUE(r && r->status == 200);
  Json j = Json::parse(r->body);
  EXPECT_GT(j["LayersSize"].get<int64_t>(), 0);
  ASSERT_TRUE(j["Images"].is_array());
  bool found = false;
  for (const Json& img : j["Images"])
    if (img["RepoTags"] == Json::array({"busybox:latest"})) found = img["Containers"].get<int64_t>() >= 1;
  EXPECT_TRUE(found) << r->body;
  EXPECT_TRUE(j["Containers"].is_array());
  EXPECT_TRUE(j["Volumes"].is_array());
  EXPECT_EQ(j["BuildCache"], Json::array());
  auto df = ctl({"system", "df"});
  EXPECT_EQ(df.exit_code, 0) << df.err;
  EXPECT_THAT(df.out, HasSubstr("TYPE"));
  EXPECT_THAT(df.out, HasSubstr("Local Volumes"));
  ok({"rm", "dfc"});
}

}  // namespace
}  // namespace berth::test
