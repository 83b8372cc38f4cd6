// Pull, push and login against a real registry (Debian's docker-registry)
// on loopback, in the test process's own network namespace (main.cc).
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "fs/image_store.h"
#include "fs/registry/platform.h"
#include "fs/registry/pull.h"
#include "fs/registry/push.h"
#include "fs/registry/session.h"
#include "tools/testkit/registry/registry.h"
#include "tests/registry/token_server.h"

namespace berth::test {
namespace {

using namespace berth::fs;
using namespace berth::fs::registry;

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

// Events by status, for checking what a pull or push reported.
struct Events {
  std::vector<ProgressEvent> all;
  ProgressFn fn() {
    return [this](const ProgressEvent& e) { all.push_back(e); };
  }
  int count(const std::string& status) const {
    int n = 0;
    for (const auto& e : all) n += e.status == status;
    return n;
  }
  bool has_prefix(const std::string& p) const {
    for (const auto& e : all)
      if (e.status.rfind(p, 0) == 0) return true;
    return false;
  }
};

class Registry : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_private_netns()) GTEST_SKIP() << "needs root (a network namespace of its own)";
    if (!path_exists("/usr/bin/docker-registry")) GTEST_SKIP() << "docker-registry not installed (tools/setup)";
  }
  void start(TestRegistry::Options o = {}) {
    reg_ = std::make_unique<TestRegistry>(o);
    std::string err;
    ASSERT_TRUE(reg_->start(&err)) << err;
  }
  std::unique_ptr<ImageStore> open_store(const std::string& name) {
    auto s = ImageStore::open(tmp_ / name);
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return std::move(*s);
  }
  // Imports the busybox rootfs tarball as `tag`.
  Image import_busybox(ImageStore& s, const std::string& tag) {
    auto img = s.import_rootfs(BERTH_BUSYBOX_TAR, tag, {}, "");
    EXPECT_TRUE(img.has_value()) << img.error().message();
    return *img;
  }
  PullOptions pull_opts(const std::string& ref) {
    PullOptions o;
    o.reference = ref;
    o.registry.certs_dir = tmp_ / "certs.d";
    o.registry.retry_base_ms = 100;
    return o;
  }
  PushOptions push_opts(const std::string& ref) {
    PushOptions o;
    o.reference = ref;
    o.registry.certs_dir = tmp_ / "certs.d";
    o.registry.retry_base_ms = 100;
    return o;
  }
  // A store with nothing in it: no image, blob, layer or temp file.
  static void expect_empty(ImageStore& s) {
    EXPECT_TRUE(s.list().empty());
    EXPECT_TRUE(dir_entries(s.dir() + "/blobs/sha256").empty());
    EXPECT_TRUE(dir_entries(s.dir() + "/ingest").empty());
    EXPECT_TRUE(dir_entries(s.dir() + "/layers").empty());
  }
  // Pushes a hand-made image of `layers` (files per layer) to repo:tag.
  Blob push_raw(const std::string& repo, const std::string& tag, const std::vector<Blob>& layers,
                const std::vector<std::string>& diff_ids, const std::string& arch = "amd64", bool docker = true) {
    Blob config = make_config(arch, diff_ids);
    std::string err;
    for (const Blob& l : layers) EXPECT_TRUE(put_blob(reg_->url(), repo, l, &err)) << err;
    EXPECT_TRUE(put_blob(reg_->url(), repo, config, &err)) << err;
    Blob m = make_manifest(config, layers, docker);
    EXPECT_TRUE(put_manifest(reg_->url(), repo, tag, m, &err)) << err;
    last_config_ = config.digest;
    return m;
  }

  TempDir tmp_;
  std::unique_ptr<TestRegistry> reg_;
  std::string last_config_;
};

TEST_F(Registry, PushThenPullIntoFreshStoreGivesSameImage) {
  start();
  auto a = open_store("a");
  auto sources = BlobSources::open(tmp_ / "sources.json").value();
  std::string ref = reg_->host() + "/busybox:1";
  Image img = import_busybox(*a, ref);

  Events pushed;
  auto p = push(*a, sources.get(), push_opts(ref), pushed.fn(), nullptr);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->layers_pushed, 1);
  EXPECT_EQ(pushed.all.front().status, "The push refers to repository [" + reg_->host() + "/busybox]");
  EXPECT_EQ(pushed.count("Preparing"), 1);
  EXPECT_EQ(pushed.count("Pushed"), 1);
  EXPECT_GE(pushed.count("Pushing"), 1);
  EXPECT_EQ(pushed.all.back().status, "1: digest: " + p->digest + " size: " + std::to_string(p->size));
  EXPECT_EQ(pushed.all.back().aux_digest, p->digest);
  EXPECT_EQ(p->digest, a->resolve(ref)->manifest_digest);

  auto b = open_store("b");
  Events pulled;
  auto r = pull(*b, nullptr, pull_opts(ref), pulled.fn(), nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, img.id);
  EXPECT_EQ(r->digest, p->digest);
  EXPECT_FALSE(r->up_to_date);
  Image got = b->resolve(ref).value();
  EXPECT_EQ(got.id, img.id);
  EXPECT_EQ(got.repo_tags, std::vector<std::string>{ref});
  EXPECT_EQ(got.repo_digests, std::vector<std::string>{reg_->host() + "/busybox@" + p->digest});
  EXPECT_TRUE(path_exists(got.layer_dirs.at(0) + "/bin/busybox"));
  EXPECT_EQ(pulled.all.front().status, "Pulling from busybox");
  EXPECT_EQ(pulled.all.front().id, "1");
  for (const char* s : {"Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"})
    EXPECT_EQ(pulled.count(s), 1) << s;
  EXPECT_GE(pulled.count("Downloading"), 1);
  EXPECT_GE(pulled.count("Extracting"), 1);
  EXPECT_TRUE(pulled.has_prefix("Digest: " + p->digest));
  EXPECT_EQ(pulled.all.back().status, "Status: Downloaded newer image for " + ref);

  // Pulled again: nothing to do. Reopened: the RepoDigest was persisted.
  Events again;
  auto r2 = pull(*b, nullptr, pull_opts(ref), again.fn(), nullptr);
  ASSERT_TRUE(r2.has_value()) << r2.error().message();
  EXPECT_TRUE(r2->up_to_date);
  EXPECT_EQ(again.all.back().status, "Status: Image is up to date for " + ref);
  b.reset();
  b = open_store("b");
  EXPECT_EQ(b->resolve(ref)->repo_digests, got.repo_digests);

  // Pushed again: the layer is there. To a sibling repository: mounted.
  Events again_push;
  ASSERT_TRUE(push(*a, sources.get(), push_opts(ref), again_push.fn(), nullptr).has_value());
  EXPECT_EQ(again_push.count("Layer already exists"), 1);
  std::string other = reg_->host() + "/other:2";
  ASSERT_TRUE(a->tag(ref, other).has_value());
  Events mounted;
  auto pm = push(*a, sources.get(), push_opts(other), mounted.fn(), nullptr);
  ASSERT_TRUE(pm.has_value()) << pm.error().message();
  EXPECT_EQ(pm->layers_mounted, 1);
  EXPECT_EQ(mounted.count("Mounted from busybox"), 1);
}

TEST_F(Registry, ChunkedPushAndPullByDigest) {
  start();
  auto a = open_store("a");
  std::string ref = reg_->host() + "/chunky:t";
  Image img = import_busybox(*a, ref);
  PushOptions po = push_opts(ref);
  po.chunk_bytes = 256 << 10;  // busybox's layer goes up in PATCH chunks
  auto p = push(*a, nullptr, po, nullptr, nullptr);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->layers_pushed, 1);

  auto b = open_store("b");
  std::string by_digest = reg_->host() + "/chunky@" + p->digest;
  auto r = pull(*b, nullptr, pull_opts(by_digest), nullptr, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, img.id);
  EXPECT_EQ(r->repo_tag, "");
  Image got = b->resolve(by_digest).value();
  EXPECT_EQ(got.id, img.id);
  EXPECT_TRUE(got.repo_tags.empty());
  EXPECT_EQ(got.repo_digests, std::vector<std::string>{by_digest});
}

TEST_F(Registry, LayersInGzipZstdAndPlainWithWhiteouts) {
  start();
  std::string d0, d1, d2;
  Blob l0 = make_layer({{"etc/", ""}, {"etc/a", "a0"}, {"etc/gone", "x"}}, Compression::kGzip, &d0);
  Blob l1 = make_layer({{"etc/", ""}, {"etc/.wh.gone", ""}, {"etc/b", "b1"}}, Compression::kZstd, &d1);
  Blob l2 = make_layer({{"etc/", ""}, {"etc/a", "a2"}}, Compression::kNone, &d2);
  push_raw("mixed", "v1", {l0, l1, l2}, {d0, d1, d2}, "amd64", /*docker=*/false);
  auto s = open_store("s");
  Events ev;
  auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/mixed:v1"), ev.fn(), nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, last_config_);
  Image img = s->resolve(r->image_id).value();
  ASSERT_EQ(img.layer_dirs.size(), 3u);
  EXPECT_EQ(read_file(img.layer_dirs[0] + "/etc/a").value(), "a0");
  EXPECT_EQ(read_file(img.layer_dirs[2] + "/etc/a").value(), "a2");
  struct stat st;
  ASSERT_EQ(::lstat((img.layer_dirs[1] + "/etc/gone").c_str(), &st), 0);  // an overlayfs whiteout
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(ev.count("Pull complete"), 3);

  // A second image sharing the two lower layers: they already exist.
  std::string d3;
  Blob l3 = make_layer({{"new", "n"}}, Compression::kGzip, &d3);
  push_raw("mixed", "v2", {l0, l1, l3}, {d0, d1, d3});
  Events ev2;
  ASSERT_TRUE(pull(*s, nullptr, pull_opts(reg_->host() + "/mixed:v2"), ev2.fn(), nullptr).has_value());
  EXPECT_EQ(ev2.count("Already exists"), 2);
  EXPECT_EQ(ev2.count("Pull complete"), 1);
}

TEST_F(Registry, MultiPlatformIndexPicksHostOrRequested) {
  start();
  std::string da, db;
  Blob la = make_layer({{"arch", "amd64"}}, Compression::kGzip, &da);
  Blob lb = make_layer({{"arch", "arm64"}}, Compression::kGzip, &db);
  Blob ma = push_raw("multi", "amd", {la}, {da}, "amd64");
  std::string id_amd = last_config_;
  Blob mb = push_raw("multi", "arm", {lb}, {db}, "arm64");
  std::string id_arm = last_config_;
  std::string index_json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                    R"({"mediaType":")" + mb.media_type + R"(","digest":")" + mb.digest + R"(","size":)" +
                    std::to_string(mb.data.size()) + R"(,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},)"
                    R"({"mediaType":")" + ma.media_type + R"(","digest":")" + ma.digest + R"(","size":)" +
                    std::to_string(ma.data.size()) + R"(,"platform":{"os":"linux","architecture":"amd64"}}]})";
  Blob index{index_json, sha256_digest(index_json), "application/vnd.oci.image.index.v1+json"};
  std::string err;
  ASSERT_TRUE(put_manifest(reg_->url(), "multi", "latest", index, &err)) << err;

  std::string ref = reg_->host() + "/multi";
  auto s = open_store("s");
  auto host = pull(*s, nullptr, pull_opts(ref), nullptr, nullptr);
  ASSERT_TRUE(host.has_value()) << host.error().message();
  EXPECT_EQ(host->image_id, host_platform().architecture == "arm64" ? id_arm : id_amd);
  EXPECT_EQ(host->digest, index.digest);  // RepoDigest: the index's, as Docker records it
  EXPECT_EQ(s->resolve(host->image_id)->repo_digests, std::vector<std::string>{ref + "@" + index.digest});

  auto s2 = open_store("s2");
  PullOptions o = pull_opts(ref);
  o.platform = "linux/arm64/v8";
  auto arm = pull(*s2, nullptr, o, nullptr, nullptr);
  ASSERT_TRUE(arm.has_value()) << arm.error().message();
  EXPECT_EQ(arm->image_id, id_arm);
  EXPECT_EQ(s2->resolve(id_arm)->architecture, "arm64");
  EXPECT_EQ(read_file(s2->resolve(id_arm)->layer_dirs[0] + "/arch").value(), "arm64");

  o.platform = "linux/s390x";
  auto none = pull(*s2, nullptr, o, nullptr, nullptr);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().message(), "no matching manifest for linux/s390x in the manifest list entries");
}

TEST_F(Registry, DockerHubReferencesGoToTheMirror) {
  start();
  std::string d0;
  Blob l0 = make_layer({{"from-mirror", "yes"}}, Compression::kGzip, &d0);
  push_raw("library/busybox", "latest", {l0}, {d0});
  auto s = open_store("s");
  PullOptions o = pull_opts("busybox");
  o.registry.mirrors = {reg_->url()};
  Events ev;
  auto r = pull(*s, nullptr, o, ev.fn(), nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, last_config_);
  EXPECT_EQ(r->repo_tag, "busybox:latest");
  EXPECT_EQ(ev.all.front().status, "Pulling from library/busybox");
  EXPECT_EQ(ev.all.back().status, "Status: Downloaded newer image for busybox:latest");
  EXPECT_EQ(s->resolve("docker.io/library/busybox:latest")->id, last_config_);
}

TEST_F(Registry, TamperedBlobFailsWithDigestErrorAndLeavesNothing) {
  start();
  std::string d0, d1;
  Blob l0 = make_layer({{"ok", std::string(100000, 'o')}}, Compression::kGzip, &d0);
  Blob l1 = make_layer({{"bad", std::string(100000, 'b')}}, Compression::kGzip, &d1);
  push_raw("tampered", "t", {l0, l1}, {d0, d1});
  std::string path = reg_->blob_data_path(l1.digest);
  std::string data = read_file(path).value();
  data[data.size() / 2] ^= 0x55;  // same size, other bytes
  ASSERT_TRUE(write_file_atomic(path, data).has_value());

  auto s = open_store("s");
  auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/tampered:t"), nullptr, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kCorrupt);
  EXPECT_EQ(r.error().message().rfind("digest mismatch for layer " + l1.digest, 0), 0u) << r.error().message();
  expect_empty(*s);
}

TEST_F(Registry, InterruptedPullResumesWhenTheRegistryComesBack) {
  start();
  std::string d0;
  std::string big(24 << 20, '\0');
  uint64_t x = 88172645463325252ull;  // xorshift: incompressible, deterministic
  for (char& c : big) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  Blob l0 = make_layer({{"big", big}}, Compression::kGzip, &d0);
  push_raw("big", "t", {l0}, {d0});
  auto s = open_store("s");
  bool stopped = false;
  ProgressFn fn = [&](const ProgressEvent& e) {
    if (stopped || e.status != "Downloading" || e.current >= e.total) return;
    stopped = true;  // the registry goes away mid-blob and comes back
    reg_->stop();
    std::string err;
    ASSERT_TRUE(reg_->start(&err)) << err;
  };
  auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/big:t"), fn, nullptr);
  ASSERT_TRUE(stopped);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, last_config_);
  EXPECT_GE(r->retries, 1);
  EXPECT_GT(r->resumed_bytes, 0);  // went on with Range from what it had
  EXPECT_EQ(read_file(s->resolve(r->image_id)->layer_dirs[0] + "/big", 32 << 20).value(), big);
}

TEST_F(Registry, DiskFullFailsCleanly) {
  if (!have_private_mountns()) GTEST_SKIP() << "needs a private mount namespace";
  start();
  std::string d0, d1;
  std::string noise(6 << 20, '\0');
  uint64_t x = 2463534242ull;
  for (char& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  Blob l0 = make_layer({{"a", noise}}, Compression::kGzip, &d0);
  Blob l1 = make_layer({{"b", noise.substr(1)}}, Compression::kGzip, &d1);
  push_raw("full", "t", {l0, l1}, {d0, d1});
  std::string small = tmp_ / "small";
  ASSERT_TRUE(make_dirs(small).has_value());
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=12m"), 0) << strerror(errno);
  {
    auto s = ImageStore::open(small + "/store").value();
    auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/full:t"), nullptr, nullptr);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().sys_errno(), ENOSPC) << r.error().message();
    EXPECT_NE(r.error().message().find("No space left on device"), std::string::npos) << r.error().message();
    expect_empty(*s);
  }
  ::umount2(small.c_str(), MNT_DETACH);
}

TEST_F(Registry, CancelStopsThePullAndLeavesNothing) {
  start();
  std::string d0;
  Blob l0 = make_layer({{"f", std::string(8 << 20, 'z')}}, Compression::kNone, &d0);
  push_raw("cancel", "t", {l0}, {d0});
  auto s = open_store("s");
  std::atomic<bool> cancel{false};
  ProgressFn fn = [&](const ProgressEvent& e) {
    if (e.status == "Downloading") cancel = true;
  };
  auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/cancel:t"), fn, &cancel);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kCancelled) << r.error().message();
  expect_empty(*s);
}

TEST_F(Registry, UnknownTagIsDockersManifestUnknown) {
  start();
  auto s = open_store("s");
  auto r = pull(*s, nullptr, pull_opts(reg_->host() + "/x:nope"), nullptr, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().message(),
            "manifest for " + reg_->host() + "/x:nope not found: manifest unknown: manifest unknown");
  auto p = push(*s, nullptr, push_opts(reg_->host() + "/absent:1"), nullptr, nullptr);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message(), "An image does not exist locally with the tag: " + reg_->host() + "/absent");
}

TEST_F(Registry, BasicAuthRightAndWrongCredentials) {
  start({.htpasswd_user = "ann", .htpasswd_password = "pw-ann"});
  auto a = open_store("a");
  std::string ref = reg_->host() + "/private:1";
  Image img = import_busybox(*a, ref);
  RegistryOptions ro;

  auto anon = push(*a, nullptr, push_opts(ref), nullptr, nullptr);
  ASSERT_FALSE(anon.has_value());
  EXPECT_TRUE(is_unauthorized(anon.error())) << anon.error().message();
  EXPECT_NE(anon.error().message().find("unauthorized: authentication required"), std::string::npos)
      << anon.error().message();

  PushOptions po = push_opts(ref);
  po.credentials = {"ann", "pw-ann", reg_->host(), "", ""};
  auto p = push(*a, nullptr, po, nullptr, nullptr);
  ASSERT_TRUE(p.has_value()) << p.error().message();

  auto b = open_store("b");
  PullOptions wrong = pull_opts(ref);
  wrong.credentials = {"ann", "nope", "", "", ""};
  auto w = pull(*b, nullptr, wrong, nullptr, nullptr);
  ASSERT_FALSE(w.has_value());
  EXPECT_TRUE(is_unauthorized(w.error())) << w.error().message();
  EXPECT_NE(w.error().message().find("unauthorized: authentication required"), std::string::npos);
  expect_empty(*b);
  PullOptions right = pull_opts(ref);
  right.credentials = decode_registry_auth(encode_registry_auth({"ann", "pw-ann", reg_->host(), "", ""})).value();
  auto r = pull(*b, nullptr, right, nullptr, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, img.id);

  auto ok = check_auth(reg_->host(), {"ann", "pw-ann", "", "", ""}, ro);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(ok->status, "Login Succeeded");
  auto bad = check_auth(reg_->host(), {"ann", "wrong", "", "", ""}, ro);
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(is_unauthorized(bad.error()));
  EXPECT_EQ(bad.error().message(),
            "login attempt to http://" + reg_->host() + "/v2/ failed with status: 401 Unauthorized");
}

TEST_F(Registry, BearerTokensFromTheChallengesRealm) {
  TokenServer tokens(tmp_.path(), 5001, "ann", "pw-ann");
  std::string err;
  ASSERT_TRUE(tokens.start(&err)) << err;
  start({.token_realm = tokens.realm(), .token_cert = tokens.cert_path()});
  auto a = open_store("a");
  std::string ref = reg_->host() + "/bearer:1";
  Image img = import_busybox(*a, ref);
  PushOptions po = push_opts(ref);
  po.credentials = {"ann", "pw-ann", "", "", ""};
  auto p = push(*a, nullptr, po, nullptr, nullptr);
  ASSERT_TRUE(p.has_value()) << p.error().message() << reg_->log();

  // One token for the pull's scope, however many requests use it.
  int before = tokens.tokens_issued();
  auto b = open_store("b");
  PullOptions right = pull_opts(ref);
  right.credentials = po.credentials;
  auto r = pull(*b, nullptr, right, nullptr, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, img.id);
  EXPECT_EQ(tokens.tokens_issued() - before, 1);

  auto c = open_store("c");
  PullOptions wrong = pull_opts(ref);
  wrong.credentials = {"ann", "nope", "", "", ""};
  auto w = pull(*c, nullptr, wrong, nullptr, nullptr);
  ASSERT_FALSE(w.has_value());
  EXPECT_TRUE(is_unauthorized(w.error())) << w.error().message();
  EXPECT_EQ(w.error().message(), "Get \"" + tokens.realm() + "\": unauthorized: incorrect username or password");
  expect_empty(*c);

  EXPECT_EQ(check_auth(reg_->host(), po.credentials, {})->status, "Login Succeeded");
  auto bad = check_auth(reg_->host(), wrong.credentials, {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(is_unauthorized(bad.error()));
  tokens.stop();
}

TEST_F(Registry, TlsWithTestCaFromCertsDir) {
  start({.tls = true});
  auto a = open_store("a");
  std::string ref = reg_->host() + "/secure:1";
  Image img = import_busybox(*a, ref);

  // Without the CA: verification fails, and there is no downgrade to HTTP.
  auto refused = push(*a, nullptr, push_opts(ref), nullptr, nullptr);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().sys_errno(), EKEYREJECTED) << refused.error().message();
  EXPECT_NE(refused.error().message().find("https://" + reg_->host() + "/v2/"), std::string::npos);

  ASSERT_TRUE(make_dirs(tmp_ / ("certs.d/" + reg_->host())).has_value());
  ASSERT_TRUE(write_file_atomic(tmp_ / ("certs.d/" + reg_->host() + "/ca.crt"),
                                read_file(reg_->ca_cert_path()).value()).has_value());
  auto p = push(*a, nullptr, push_opts(ref), nullptr, nullptr);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  auto b = open_store("b");
  auto r = pull(*b, nullptr, pull_opts(ref), nullptr, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->image_id, img.id);
}

TEST_F(Registry, RegistryThatIsNotThereIsABoundedError) {
  auto s = open_store("s");
  PullOptions o = pull_opts("127.0.0.1:5999/x:1");
  o.registry.connect_timeout_ms = 2000;
  auto r = pull(*s, nullptr, o, nullptr, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().sys_errno(), ECONNREFUSED) << r.error().message();
  EXPECT_EQ(r.error().message().rfind("Get \"https://127.0.0.1:5999/v2/\": ", 0), 0u) << r.error().message();
  auto login = check_auth("127.0.0.1:5999", {}, o.registry);
  ASSERT_FALSE(login.has_value());
  expect_empty(*s);
}

}  // namespace
}  // namespace berth::test
