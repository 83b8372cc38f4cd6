// create_netns: a network namespace made ahead of time, for runtime::Spec's
// netns_fd.
//
// Creating a netns is the most expensive part of clone3 for a container
// (about 0.5 ms here: the namespace, its loopback device, per-netns sysctl
// tables). Making it before the container starts (NetnsPool keeps a small
// pool) takes that off the start path; spawn() then clones without
// CLONE_NEWNET and the child joins the namespace with setns(2).
//
// Threads: create_netns() BLOCKS (about 0.5-1 ms) and temporarily moves the
// CALLING THREAD into the new namespace: run it on a job-pool worker, never
// on the reactor thread. Namespaces belong to a task (a thread), not to the
// process, so only that worker moves, and it is moved back to the netns it
// was in before returning. Nothing else on that thread may run meanwhile,
// which a job-pool worker guarantees (one job at a time).
//
// Ownership: the caller owns the returned fd (O_CLOEXEC). The namespace lives
// as long as the fd or any process in it: closing the fd after spawn() is
// enough, the container keeps its namespace alive. Give each namespace to ONE
// container; a namespace that was never used dies with its fd.
#pragma once

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::netns {

// A new network namespace with only `lo`, already up (IFF_UP), as an fd of
// /proc/thread-self/ns/net. Errors: kSystem with context ("create network
// namespace: unshare: Operation not permitted"). Aborts (BERTH_ASSERT) only
// if the thread cannot be moved back to its original namespace, since the
// worker would then run every later job in the wrong network.
Result<unique_fd> create_netns();

}  // namespace berth::netns
