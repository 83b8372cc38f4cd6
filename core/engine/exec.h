// Exec instances (docker exec): a process started inside a running
// container's namespaces and cgroup (runtime::Spec::join_pidfd), with its own
// output pipes, reaped by berthd like the container's init.
//
// Life: created by ExecService::create (container running), started once by
// ExecService::start (the clone3, the cgroup.procs write and the release on
// the job lane), and kept, with its exit code, until its container is
// removed (Docker keeps them for inspect). Output of an attached exec goes to
// its client only, never to the container's log; a detached one's goes to
// /dev/null, as in Docker (a detached tty exec's pty output is read and
// dropped, so it never blocks on a full terminal).
//
// Thread: reactor thread only. An ExecInstance is freed only when none of its
// completions is in flight (ExecService::drop_if_idle).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/engine/container.h"
#include "core/engine/options.h"
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
  bool spawning = false;         // its spawn job is under way
  int exit_code = 0;
  int start_error_code = 0;      // 126/127 when execve was never reached
  pid_t pid = 0;
  bool container_gone = false;   // the container was removed: free when idle
  uint64_t keeper_gen = 0;       // its status comes from this keeper (keeper_link.h)
  bool awaiting_keeper = false;

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
    return !spawning && !awaiting_keeper && !exit_c.in_flight() && !error_c.in_flight() && !out.c.in_flight() && !err.c.in_flight() &&
           (!stdin || !stdin->busy());
  }
  bool output_done() const { return !out.fd && !err.fd; }
};

class Engine;

class ExecService {
 public:
  explicit ExecService(Engine& e) : e_(e) {}
  ExecService(const ExecService&) = delete;
  ExecService& operator=(const ExecService&) = delete;

  // kConflict unless the container runs.
  Result<ExecInstance*> create(Container& c, ExecConfig cfg);
  Result<ExecInstance*> find(const std::string& id);
  // Answers `started` once execve succeeded (or failed); an attached sink
  // then gets the output and `ended`.
  void start(ExecInstance& e, bool detach, ExecSink sink, Done started);
  // stdin of an exec started attached with AttachStdin (as for containers).
  void write_stdin(ExecInstance& e, std::string_view data, std::function<void()> done);
  void close_stdin(ExecInstance& e);
  Result<void> resize(ExecInstance& e, unsigned short rows, unsigned short cols);
  // The container is being removed: its instances go too (once idle).
  void forget(const Container& c);
  // Health probes (container_health.cc): SIGKILL to a running instance (a
  // probe past its timeout), and an ended probe dropped from its
  // container's ExecIDs and freed once idle (Docker lists no probes).
  void kill(const std::string& id);
  void discard(const std::string& id);
  bool busy() const;   // an exec still runs or has operations in flight

 private:
  void spawned(ExecInstance& e, Result<runtime::Process> p, Result<void> released);
  void read(ExecInstance& e, ExecInstance::Pipe& p);
  void pty_arrived(ExecInstance& e);
  void exit_ready(ExecInstance& e, int32_t res);
  void exec_exited(ExecInstance& e, int exit_code);
 public:
  // Shutdown with live restore: every exec still running is killed.
  void kill_running();
 private:
  void error_read(ExecInstance& e, int32_t res);
  void maybe_finish(ExecInstance& e);
  void drop_if_idle(const std::string& id);

  Engine& e_;
  std::map<std::string, std::unique_ptr<ExecInstance>> execs_;   // by exec id
};

}  // namespace berth::engine
