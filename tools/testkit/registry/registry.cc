#include "tools/testkit/registry/registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "fs/registry/manifest.h"
#include "fs/tar_writer.h"

namespace berth::test {

using nlohmann::json;

TempDir::TempDir() {
  char tmpl[] = "/tmp/berth-registry-test-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

TempDir::~TempDir() { (void)remove_tree(path_); }

int run_for_status(const std::vector<std::string>& argv, std::string* out) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

// In the child, before anything else: into `netns`, with its loopback up.
bool enter_netns(const std::string& netns) {
  int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) < 0) return false;
  ::close(fd);
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP;
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  if (s >= 0) ::close(s);
  return ok;
}

bool connect_loopback(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return up;
}

}  // namespace

TestRegistry::TestRegistry(Options o) : opts_(std::move(o)) {}

// Whether the registry's port answers, seen from its network namespace (a
// short-lived child enters it: this process's threads stay where they are).
bool TestRegistry::accepts_connections() const {
  if (opts_.netns.empty()) return connect_loopback(opts_.port);
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(enter_netns(opts_.netns) && connect_loopback(opts_.port) ? 0 : 1);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TestRegistry::~TestRegistry() { stop(); }

std::string TestRegistry::host() const {
  return (opts_.tls ? "localhost:" : "127.0.0.1:") + std::to_string(opts_.port);
}

std::string TestRegistry::url() const { return (opts_.tls ? "https://" : "http://") + host(); }

std::string TestRegistry::blob_data_path(const std::string& digest) const {
  std::string hex(fs::digest_hex(digest));
  return dir_ / ("storage/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data");
}

std::string TestRegistry::log() const {
  auto text = read_file(dir_ / "registry.log", 1 << 20);
  return text ? *text : std::string();
}

bool TestRegistry::make_tls(std::string* err) {
  std::string d = dir_.path();
  ca_cert_ = d + "/ca.crt";
  write_file_atomic(d + "/ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n").value();
  std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/ca.key", "-out", ca_cert_, "-days", "2", "-subj", "/CN=berth test CA"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=localhost"},
      {"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca_cert_, "-CAkey", d + "/ca.key",
       "-CAcreateserial", "-out", d + "/server.crt", "-days", "2", "-extfile", d + "/ext.cnf"},
  };
  for (const auto& argv : steps) {
    std::string out;
    if (run_for_status(argv, &out) != 0) {
      *err = "openssl failed: " + out;
      return false;
    }
  }
  return true;
}

bool TestRegistry::start(std::string* err) {
  if (!path_exists("/usr/bin/docker-registry")) {
    *err = "docker-registry is not installed (tools/setup)";
    return false;
  }
  std::string d = dir_.path();
  std::string config = "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                       "storage:\n  filesystem:\n    rootdirectory: " + d + "/storage\n  delete:\n    enabled: true\n"
                       "http:\n  addr: 127.0.0.1:" + std::to_string(opts_.port) + "\n";
  if (opts_.tls) {
    if (ca_cert_.empty() && !make_tls(err)) return false;
    config += "  tls:\n    certificate: " + d + "/server.crt\n    key: " + d + "/server.key\n";
  }
  if (!opts_.htpasswd_user.empty()) {
    std::string out;
    if (!path_exists(d + "/htpasswd") &&
        run_for_status({"htpasswd", "-Bbc", d + "/htpasswd", opts_.htpasswd_user, opts_.htpasswd_password}, &out) != 0) {
      *err = "htpasswd failed: " + out;
      return false;
    }
    config += "auth:\n  htpasswd:\n    realm: basic-realm\n    path: " + d + "/htpasswd\n";
  }
  if (!opts_.token_realm.empty())
    config += "auth:\n  token:\n    realm: " + opts_.token_realm + "\n    service: berth-test\n    issuer: "
              "berth-test-issuer\n    rootcertbundle: " + opts_.token_cert + "\n";
  if (auto w = write_file_atomic(d + "/config.yml", config); !w) {
    *err = w.error().message();
    return false;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (!opts_.netns.empty() && !enter_netns(opts_.netns)) ::_exit(126);
    int fd = ::open((d + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl("/usr/bin/docker-registry", "docker-registry", "serve", (d + "/config.yml").c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 200; i++) {  // up to 10 s
    if (accepts_connections()) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *err = "docker-registry exited: " + log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *err = "docker-registry did not listen within 10 s: " + log();
  stop();
  return false;
}

void TestRegistry::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void TestRegistry::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void TestRegistry::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Blob make_layer(const std::vector<std::pair<std::string, std::string>>& files, fs::Compression c,
                std::string* diff_id) {
  TempDir tmp;
  std::string path = tmp / "layer";
  {
    auto w = fs::TarWriter::create(path, c);
    for (const auto& [name, data] : files) {
      if (!name.empty() && name.back() == '/') (void)w->add_dir(name.substr(0, name.size() - 1));
      else (void)w->add_file(name, data);
    }
    (void)w->close();
  }
  Blob b;
  b.data = read_file(path, 1 << 30).value();
  b.digest = fs::sha256_digest(b.data);
  b.media_type = fs::layer_media_type(c);
  unique_fd fd = open_fd(path, O_RDONLY).value();
  (void)make_dirs(tmp / "out");
  fs::ApplyOptions opts;
  opts.preserve_owner = false;
  *diff_id = fs::apply_layer(fd.get(), tmp / "out", opts).value().diff_id;
  return b;
}

Blob make_config(const std::string& arch, const std::vector<std::string>& diff_ids, const std::string& cmd) {
  json j{{"architecture", arch},
         {"os", "linux"},
         {"created", "2026-01-02T03:04:05Z"},
         {"config", {{"Cmd", {cmd}}}},
         {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  Blob b{j.dump(), "", std::string(fs::kMediaTypeConfig)};
  b.digest = fs::sha256_digest(b.data);
  return b;
}

Blob make_manifest(const Blob& config, const std::vector<Blob>& layers, bool docker) {
  using namespace fs::registry;
  json ls = json::array();
  for (const Blob& l : layers) {
    std::string mt = docker && l.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
                         ? std::string(kMediaDockerLayerGzip) : l.media_type;
    ls.push_back({{"mediaType", mt}, {"digest", l.digest}, {"size", l.data.size()}});
  }
  std::string mt(docker ? kMediaDockerManifest : kMediaOciManifest);
  json j{{"schemaVersion", 2},
         {"mediaType", mt},
         {"config", {{"mediaType", docker ? std::string(kMediaDockerConfig) : config.media_type},
                     {"digest", config.digest}, {"size", config.data.size()}}},
         {"layers", ls}};
  Blob b{j.dump(), "", mt};
  b.digest = fs::sha256_digest(b.data);
  return b;
}

bool put_blob(const std::string& base, const std::string& repo, const Blob& b, std::string* err) {
  fs::registry::HttpClient http({});
  fs::registry::HttpRequest post;
  post.method = "POST";
  post.url = base + "/v2/" + repo + "/blobs/uploads/";
  auto r = http.perform(post);
  if (!r || r->status != 202) {
    *err = r ? "POST status " + std::to_string(r->status) + " " + r->body : r.error().message();
    return false;
  }
  std::string loc = r->header("location");
  if (loc.front() == '/') loc = base + loc;
  fs::registry::HttpRequest put;
  put.method = "PUT";
  put.url = loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + b.digest;
  put.body = b.data;
  auto p = http.perform(put);
  if (!p || p->status != 201) {
    *err = p ? "PUT status " + std::to_string(p->status) + " " + p->body : p.error().message();
    return false;
  }
  return true;
}

bool put_manifest(const std::string& base, const std::string& repo, const std::string& ref, const Blob& m,
                  std::string* err) {
  fs::registry::HttpClient http({});
  fs::registry::HttpRequest put;
  put.method = "PUT";
  put.url = base + "/v2/" + repo + "/manifests/" + ref;
  put.body = m.data;
  put.headers.push_back("Content-Type: " + m.media_type);
  auto p = http.perform(put);
  if (!p || p->status != 201) {
    *err = p ? "PUT manifest status " + std::to_string(p->status) + " " + p->body : p.error().message();
    return false;
  }
  return true;
}

}  // namespace berth::test

namespace berth::test {

Blob make_index(const std::vector<std::pair<Blob, std::string>>& manifests) {
  json list = json::array();
  for (const auto& [m, platform] : manifests) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t slash; (slash = platform.find('/', start)) != std::string::npos; start = slash + 1)
      parts.push_back(platform.substr(start, slash - start));
    parts.push_back(platform.substr(start));
    json p = {{"os", parts[0]}, {"architecture", parts.size() > 1 ? parts[1] : ""}};
    if (parts.size() > 2) p["variant"] = parts[2];
    list.push_back({{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.data.size()}, {"platform", p}});
  }
  json j = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", list}};
  Blob b{j.dump(), "", "application/vnd.oci.image.index.v1+json"};
  b.digest = fs::sha256_digest(b.data);
  return b;
}

bool push_image(const std::string& base_url, const std::string& repo, const std::string& tag,
                const std::vector<Blob>& layers, const std::vector<std::string>& diff_ids, const std::string& arch,
                Blob* manifest, std::string* config_digest, std::string* err) {
  Blob config = make_config(arch, diff_ids);
  for (const Blob& l : layers)
    if (!put_blob(base_url, repo, l, err)) return false;
  if (!put_blob(base_url, repo, config, err)) return false;
  *manifest = make_manifest(config, layers, true);
  *config_digest = config.digest;
  return put_manifest(base_url, repo, tag, *manifest, err);
}

}  // namespace berth::test
