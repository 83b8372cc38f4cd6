// The container state machine: which verb may act on a container in which
// status, with Docker's answer when it may not. Every public container verb
// of the Engine asks here first (can()), so the rules live in one table and
// are tested as a whole (tests/unit/engine/status_test.cc walks every
// status/verb pair).
//
// Statuses and their transitions (the verbs that make them):
//
//   created --start--> running --exit--> exited --start--> running ...
//   running --pause--> paused --unpause--> running
//   any --remove--> removing --(files gone)--> (forgotten)
//   created|exited --start fails early--> created
//
// kRestarting and kDead are Docker's; berth reports them, never enters
// kDead, and enters kRestarting only with restart policies.
//
// Pure functions on values; any thread.
#pragma once

#include <string_view>

#include "core/base/result.h"

namespace berth::engine {

enum class Status { kCreated, kRunning, kPaused, kRestarting, kRemoving, kExited, kDead };
const char* status_name(Status s);

// Running in the sense of Docker's State.Running: the process lives (paused
// containers included).
inline bool is_running(Status s) { return s == Status::kRunning || s == Status::kPaused; }

enum class Verb {
  kStart,
  kStop,        // stop and restart's first half
  kKill,
  kPause,
  kUnpause,
  kRemove,      // rm without force
  kForceRemove, // rm -f
  kExec,        // exec create
  kResize,
  kUpdate,
  kCommit,
  kAttach,
  kRename,
  kTop,         // top, stats of processes
  kConnect,     // network connect (a new interface at once when running)
  kDisconnect,  // network disconnect
};
const char* verb_name(Verb v);
inline constexpr int kVerbCount = int(Verb::kDisconnect) + 1;
inline constexpr int kStatusCount = int(Status::kDead) + 1;

// Ok when `v` may act on a container in status `s`. Otherwise an Error with
// Docker's message for `id`: kConflict (409) for a wrong state,
// kNotModified (304) where Docker answers "nothing to do" (start of a
// running container, stop of a stopped one).
Result<void> can(Verb v, Status s, std::string_view id);

}  // namespace berth::engine
