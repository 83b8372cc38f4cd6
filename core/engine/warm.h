// Warm inits: container init processes berthd starts before anyone asks,
// so that creating and starting a container only hands one over (runtime's
// deferred spawn, core/runtime/late.h). Engine-internal.
//
// A warm init is a whole container minus its request: an id and directory
// (<root>/containers/<id>, no state file yet), the namespaces, the cgroup
// (joined), the overlay root and every mount of the plan, the child blocked
// on its sync socket. It is made on the job pool (mkdirs, clone3, and on v1
// the cgroup.procs writes, whose first one after a quiet spell waits for an
// RCU grace period) for the image of a container that just started, if
// that container could have used one (runtime::can_release_as), and kept
// up to Options::warm_inits (least recently used image first out).
//
// create() adopts one when the new container's init spec can be released
// from it: the container takes its id and directory. start() then sends the
// command, env, user, cwd, hostname, tty and stdio (release(p, spec)) and
// carries on as after a clone3. An adopted init that is never started
// (rm, daemon stop) is killed like a pooled one.
//
// Costs, per warm init: one process (pid, kernel stacks, the page tables of
// a copy of berthd), its namespaces, overlay and mounts, a cgroup in each
// hierarchy, one netns from the pool and about 20 KiB of directories.
//
// Thread: reactor thread, except WarmBuild's work on the job pool.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroups.h"
#include "core/reactor/reactor.h"
#include "core/runtime/spawn.h"

namespace berth::engine {

struct WarmInit {
  std::string id;                  // the container id it will give
  std::string image_id;
  std::string dir;                 // <root>/containers/<id>
  runtime::Spec spec;              // as spawned (deferred), for can_release_as
  runtime::Process proc;
  std::shared_ptr<cgroups::Cgroup> cgroup;
  bool adopted = false;            // a container has it (its dir is the container's)
  uint64_t last_used = 0;          // pool order: the image's last start
  reactor::Completion exit_c;      // POLLIN on the pidfd: died, or killed by drop_warm
  std::function<void()> after_exit;
};

}  // namespace berth::engine
