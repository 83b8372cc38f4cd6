// Exec instances (docker exec): a process started inside a running
// container's namespaces and cgroup (runtime::Spec::join_pidfd), with its own
// output pipes, reaped by berthd like the container's init.
//
// Life: created by Engine::exec_create (container running), started once by
// Engine::exec_start, and kept, with its exit code, until its container is
// removed (Docker keeps them for inspect). Output of an attached exec goes to
// its client only, never to the container's log; a detached one's goes to
// /dev/null, as in Docker (a detached tty exec's pty output is read and
// dropped, so it never blocks on a full terminal).
//
// Thread: reactor thread only. An ExecInstance is freed only when none of its
// completions is in flight (Engine::drop_exec_if_idle).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"
#include "core/engine/stdin_writer.h"
#include "core/runtime/child_error.h"
#include "core/runtime/spawn.h"

namespace berth::engine {

struct ExecConfig {
  std::vector<std::string> cmd;         // argv, at least one element
  std::vector<std::string> env;         // "K=V", on top of the container's
  std::string user, working_dir;        // "" = the container's
  bool tty = false, privileged = false;
  unsigned short console_rows = 0, console_cols = 0;   // ConsoleSize: the pty's first size
  std::string detach_keys;              // DetachKeys as given (validated by ipc)
  bool attach_stdin = false, attach_stdout = true, attach_stderr = true;
};

// Where an attached exec's output goes, and how its end is told.
struct ExecSink {
  std::function<void(uint8_t stream, std::string_view data)> output;
  std::function<void()> ended;  // output drained and exit code recorded
};

struct ExecInstance {
  std::string id;            // 64 hex
  std::string container_id;
  ExecConfig config;
  bool started = false, running = false, exited = false;
  int exit_code = 0;
  int start_error_code = 0;      // 126/127 when execve was never reached
  pid_t pid = 0;
  bool container_gone = false;   // the container was removed: free when idle

  // Runtime.
  unique_fd pidfd, error_fd;
  runtime::Spec spec;            // as spawned, for describe_child_error
  runtime::ChildError child_error{};
  reactor::Completion exit_c, error_c;
  struct Pipe {
    unique_fd fd;
    uint8_t stream = 1;
    reactor::Completion c;
    char buf[16384];
  };
  Pipe out, err;            // with a tty, `out` reads the pty master
  std::unique_ptr<StdinWriter> stdin;   // AttachStdin on an attached start
  runtime::Process pty_handoff;         // tty: the master arrives on its sync socket
  unique_fd pty;                        // tty: a copy of the master for resize
  unsigned short pending_rows = 0, pending_cols = 0;
  ExecSink sink;
  std::function<void(Result<void>)> on_started;

  bool idle() const {
    return !exit_c.in_flight() && !error_c.in_flight() && !out.c.in_flight() && !err.c.in_flight() &&
           (!stdin || !stdin->busy());
  }
  bool output_done() const { return !out.fd && !err.fd; }
};

}  // namespace berth::engine
