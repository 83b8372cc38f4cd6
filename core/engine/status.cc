#include "core/engine/status.h"

namespace berth::engine {

const char* status_name(Status s) {
  switch (s) {
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kRestarting: return "restarting";
    case Status::kRemoving: return "removing";
    case Status::kExited: return "exited";
    case Status::kDead: return "dead";
  }
  return "dead";
}

const char* verb_name(Verb v) {
  switch (v) {
    case Verb::kStart: return "start";
    case Verb::kStop: return "stop";
    case Verb::kKill: return "kill";
    case Verb::kPause: return "pause";
    case Verb::kUnpause: return "unpause";
    case Verb::kRemove: return "remove";
    case Verb::kForceRemove: return "force remove";
    case Verb::kExec: return "exec";
    case Verb::kResize: return "resize";
    case Verb::kUpdate: return "update";
    case Verb::kCommit: return "commit";
    case Verb::kAttach: return "attach";
    case Verb::kRename: return "rename";
    case Verb::kTop: return "top";
    case Verb::kConnect: return "connect";
    case Verb::kDisconnect: return "disconnect";
  }
  return "?";
}

namespace {

Error not_running(std::string_view id) { return Error::conflict("Container {} is not running", id); }
Error is_paused(std::string_view id) {
  return Error::conflict("Container {} is paused. Unpause the container before stopping or killing", id);
}
Error being_removed(std::string_view id) {
  return Error::conflict("removal of container {} is already in progress", id);
}
Error dead(std::string_view id) { return Error::conflict("Container {} is dead", id); }

}  // namespace

Result<void> can(Verb v, Status s, std::string_view id) {
  if (s == Status::kRemoving && v != Verb::kAttach) {
    if (v == Verb::kStart) return Error::conflict("container {} is marked for removal and cannot be started", id);
    return being_removed(id);
  }
  switch (v) {
    case Verb::kStart:
      if (is_running(s)) return Error(Code::kNotModified, "container already started");
      if (s == Status::kDead) return dead(id);
      return ok();  // created, exited, restarting (a policy's restart)
    case Verb::kStop:
      if (s == Status::kPaused) return is_paused(id);
      if (s != Status::kRunning && s != Status::kRestarting) return Error(Code::kNotModified, "container already stopped");
      return ok();
    case Verb::kKill:
      if (s == Status::kPaused) return is_paused(id);
      if (s != Status::kRunning) return not_running(id);
      return ok();
    case Verb::kPause:
      if (s == Status::kPaused) return Error::conflict("Container {} is already paused", id);
      if (s != Status::kRunning) return not_running(id);
      return ok();
    case Verb::kUnpause:
      if (s != Status::kPaused) return Error::conflict("Container {} is not paused", id);
      return ok();
    case Verb::kRemove:
      if (is_running(s) || s == Status::kRestarting)
        return Error::conflict(
            "You cannot remove a running container {}. Stop the container before attempting removal or "
            "force remove",
            id);
      return ok();
    case Verb::kForceRemove:
      return ok();
    case Verb::kExec:
      if (s == Status::kPaused) return Error::conflict("Container {} is paused, unpause the container before exec", id);
      if (s != Status::kRunning) return not_running(id);
      return ok();
    case Verb::kResize:
    case Verb::kTop:
      if (!is_running(s)) return not_running(id);
      return ok();
    case Verb::kUpdate:
    case Verb::kCommit:
    case Verb::kRename:
    case Verb::kConnect:
    case Verb::kDisconnect:
      if (s == Status::kDead) return dead(id);
      return ok();
    case Verb::kAttach:
      return ok();  // a stopped container's attach ends at once (or replays its log)
  }
  return Error::invalid("unknown verb");
}

}  // namespace berth::engine
