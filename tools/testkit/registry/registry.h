// A real registry for the registry tests: Debian's docker-registry started
// on loopback with a config file of the test's own (storage in a temp dir),
// stopped by PID. Every test process runs in a network namespace of its
// own (main.cc unshares it before any thread starts), so port 5000 is the
// test's alone and no traffic leaves loopback.
//
// Also helpers to make images: a test CA and server certificate (openssl),
// an htpasswd file (htpasswd -B), and raw pushes of hand-made blobs,
// manifests and indexes with the library's HTTP client.
//
// Thread: the test's main thread, except stop()/start(), which the
// interrupted-pull test calls from a progress callback (the download
// thread) while the main thread waits in pull().
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "fs/digest.h"
#include "fs/layer.h"
#include "fs/registry/http.h"

namespace berth::test {

// Whether main() could make the network namespace (needs root).
bool have_private_netns();
// Whether main() could make a private mount namespace (needs root).
bool have_private_mountns();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Runs `argv` and waits; returns its exit status, output in *out.
int run_for_status(const std::vector<std::string>& argv, std::string* out = nullptr);

class TestRegistry {
 public:
  struct Options {
    std::string htpasswd_user, htpasswd_password;  // basic auth when set
    bool tls = false;                              // TLS with a test CA (ca_cert())
    std::string token_realm, token_cert;           // bearer-token auth (tests/registry/token_server.h)
    int port = 5000;
    // The network namespace to serve in ("/proc/<berthd pid>/ns/net", so a
    // TestDaemon reaches it on its loopback, which start() brings up); ""
    // for the caller's.
    std::string netns;
  };
  explicit TestRegistry(Options o);
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  bool start(std::string* err);  // writes the config, starts, waits until it accepts connections
  void stop();                   // SIGKILL by PID, then waitpid
  // SIGSTOP / SIGCONT: a registry that stops answering mid-transfer.
  void pause();
  void resume();

  // "127.0.0.1:5000" (plain) or "localhost:5000" (TLS: the certificate's name).
  std::string host() const;
  std::string url() const;  // "http://127.0.0.1:5000" / "https://localhost:5000"
  const std::string& ca_cert_path() const { return ca_cert_; }
  // The registry's file holding blob `digest`.
  std::string blob_data_path(const std::string& digest) const;
  std::string log() const;

 private:
  bool make_tls(std::string* err);
  bool accepts_connections() const;
  Options opts_;
  TempDir dir_;
  std::string ca_cert_;
  pid_t pid_ = -1;
};

// A blob made by hand.
struct Blob {
  std::string data, digest;
  std::string media_type;
};

// A layer blob with `files` (path -> content) in compression `c`; its diff
// ID in *diff_id.
Blob make_layer(const std::vector<std::pair<std::string, std::string>>& files, fs::Compression c,
                std::string* diff_id);
// An image config for `diff_ids` on `arch`.
Blob make_config(const std::string& arch, const std::vector<std::string>& diff_ids, const std::string& cmd = "sh");
// A manifest (Docker schema 2 when `docker`, else OCI) for config + layers.
Blob make_manifest(const Blob& config, const std::vector<Blob>& layers, bool docker);

// An OCI image index of `manifests`, each with its platform
// ("linux/arm64/v8", "linux/amd64").
Blob make_index(const std::vector<std::pair<Blob, std::string>>& manifests);

// Raw distribution API calls (no auth): upload a blob (POST + PUT), put a
// manifest or index under `ref` with its media type. Errors in *err.
bool put_blob(const std::string& base_url, const std::string& repo, const Blob& b, std::string* err);
bool put_manifest(const std::string& base_url, const std::string& repo, const std::string& ref, const Blob& m,
                  std::string* err);
// The layers, a config for `arch` and a Docker schema 2 manifest under
// repo:tag; the manifest in *manifest and the config's digest (the image
// ID) in *config_digest.
bool push_image(const std::string& base_url, const std::string& repo, const std::string& tag,
                const std::vector<Blob>& layers, const std::vector<std::string>& diff_ids, const std::string& arch,
                Blob* manifest, std::string* config_digest, std::string* err);

}  // namespace berth::test
