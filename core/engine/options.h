// The engine's settings (berthd's flags) and the callback shapes its
// asynchronous verbs share. Plain values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "core/base/result.h"
#include "core/engine/log_files.h"
#include "core/runtime/spec.h"
#include "fs/registry/remote.h"

namespace berth::engine {

struct Options {
  std::string root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  // The static init of --init containers (tools/berth-init), bound into
  // them at /sbin/berth-init; berthd's default is berth-init beside itself.
  std::string init_path;
  size_t netns_pool = 4;   // network namespaces made ahead of time (0: none)
  size_t warm_inits = 2;   // container inits made ahead of time (warm.h; 0: none)
  // --userns-remap: containers get a user namespace of their own with this
  // mapping (runtime/userns.h), unless created with UsernsMode "host";
  // `userns_remap_name` is what GET /info shows. Warm inits are off then.
  runtime::IdMap userns_remap;
  std::string userns_remap_name;
  // Parent of every container's cgroup: relative to berthd's own cgroup (per
  // hierarchy), or absolute from the hierarchy root.
  std::string cgroup_parent = "berth";
  bool cgroups = true;     // false: no cgroups at all (limits are refused)
  // A clean shutdown leaves containers running for the next berthd (their
  // keeper holds them, runtime/keeper.h); false: it stops them.
  bool live_restore = true;
  cgroups::DetectOptions cgroup_detect;
  LogConfig log_defaults;  // --log-opt: under each container's HostConfig.LogConfig
  // Networks (networks.h): the default bridge (--bridge; "none": no default
  // network, containers get none), its address (--bip: gateway/prefix, or
  // a subnet whose first host is the gateway), berth's nftables table and
  // the containers a bridge takes before a leaf bridge (netns/ports.h).
  std::string bridge = "berth0";
  std::string bip = "10.88.0.0/16";
  std::string nat_table = "berth";
  unsigned ports_per_bridge = 1000;
  // How the host's own connections to 127.0.0.1:<published port> reach the
  // container: false (default), the kernel's NAT (netns/nat.h, "Loopback");
  // true, the reactor's proxy (netns/proxy.h), as Docker's default.
  bool userland_proxy = false;
  // --registry-mirror, --insecure-registry, --registry-certs-dir: how pulls,
  // pushes and logins reach registries (fs/registry/remote.h).
  fs::registry::RegistryOptions registry;

  // One read-only layer shared by every container, just above its image:
  // the empty /dev, /proc and /sys the runtime mounts on. With the mount
  // points there, an image without them needs no mkdir in the container's
  // upper dir, so they never show in diff or commit (Docker's init layer,
  // without a copy per container). Export includes it, as Docker's does.
  std::string init_layer() const { return root + "/init-layer"; }
  // Read-only to every container, bound instead of a tmpfs of its own
  // (runtime::Spec::empty_dir, cgroup_skeleton): an empty directory, and
  // one with a directory per v1 cgroup hierarchy.
  std::string empty_dir() const { return root + "/empty"; }
  std::string cgroup_skeleton_dir() const { return root + "/cgroup-view"; }
  std::string containers_dir() const { return root + "/containers"; }
  std::string trash_dir() const { return root + "/trash"; }
};

using Done = std::function<void(Result<void>)>;
template <class T>
using DoneWith = std::function<void(Result<T>)>;

// A stream made on the job pool a piece (about 1 MiB) at a time: `piece`
// runs on the reactor thread with each piece, `last` set on the final one;
// the next piece is made once `more` is called (back-pressure); dropping
// `more` abandons the stream. An error ends it (before the first piece:
// nothing was sent yet). Export, cp out and save use it.
using ExportPiece = std::function<void(Result<std::string> data, bool last, std::function<void()> more)>;

// docker image/container prune filters and their answer.
struct PruneFilters {
  bool dangling_only = true;            // images: only untagged ones
  int64_t until_ns = 0;                 // 0: any age; else only older ones
  std::map<std::string, std::string> labels;      // label=k or k=v: must match
  std::map<std::string, std::string> not_labels;  // label!=k or k=v: must not
};
// One record of Docker's DELETE /images answer: either field set.
struct ImageDeleteItem {
  std::string untagged, deleted;
};
struct PruneReport {
  std::vector<ImageDeleteItem> images;
  std::vector<std::string> containers;
  int64_t bytes = 0;
};

}  // namespace berth::engine
