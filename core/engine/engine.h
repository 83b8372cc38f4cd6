// Engine: the owner of every container and the only code that changes or
// persists container state. Images live in fs::ImageStore, which the engine
// holds; ipc/server maps HTTP requests onto these calls.
//
// Thread: reactor thread only. Calls that finish later take a `done`
// callback, always invoked on the reactor thread, possibly before the call
// returns. Containers are referred to by pointer only within one call; async
// holders keep the id.
//
// Verbs follow one shape: refresh, check can_x(), act, set state, persist
// (one file per verb: container_<verb>.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "core/engine/netns_pool.h"
#include "core/reactor/reactor.h"
#include "fs/image_store.h"

namespace berth::engine {

struct Options {
  std::string root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  size_t netns_pool = 4;   // network namespaces made ahead of time (0: none)
};

using Done = std::function<void(Result<void>)>;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(reactor::Reactor& r, const Options& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Lookup by full id, name (with or without '/'), or unique id prefix.
  Result<Container*> find(std::string_view ref);
  const std::map<std::string, std::unique_ptr<Container>>& containers() const { return containers_; }
  fs::ImageStore& images() { return *images_; }
  const Options& options() const { return opts_; }

  // Verbs. A verb's success is reported only once the state it produced is
  // on disk, so a daemon crash right after can never forget it.
  Result<Container*> create(CreateSpec spec);
  // Runs `fn` once the container's latest state is written (at once if no
  // write is in flight).
  void when_persisted(Container& c, std::function<void()> fn) { after_persist(c, std::move(fn)); }
  void start(Container& c, Done done);
  Result<void> kill(Container& c, int sig);
  void stop(Container& c, int timeout_s, int sig, Done done);
  void remove(Container& c, bool force, Done done);
  // Registers a waiter; returns a token for cancel_wait. Fires at once for
  // kNotRunning when the container is not running.
  uint64_t wait(Container& c, WaitCondition cond, std::function<void(int, const std::string&)> fire);
  void cancel_wait(const std::string& id, uint64_t token);
  uint64_t attach(Container& c, Attacher a);
  void detach(const std::string& id, uint64_t token);
  void import_image(std::string tar_path, std::string repo_tag, fs::ImageConfig changes,
                    std::string comment, std::function<void(Result<fs::Image>)> done);

  // Stops every running container (SIGKILL) and calls done when all exited
  // and their state is persisted.
  void shutdown(std::function<void()> done);

  int count(Status s) const;

 private:
  explicit Engine(reactor::Reactor& r) : r_(r) {}

  Result<void> load_containers();
  void persist(Container& c);
  void after_persist(Container& c, std::function<void()> fn);
  void process_exited(Container& c, int exit_code);
  void maybe_finish_exit(Container& c);
  void finish_exit(Container& c);
  void remove_now(Container& c, Done done);
  void fire_waiters(Container& c, bool removed);
  void check_shutdown();
  Result<void> spawn(Container& c);
  void watch_exit(Container& c);
  void exit_ready(Container& c, int32_t res);
  void exec_result(Container& c, int32_t res, Done done);
  void stop_timer_fired(Container& c, int32_t res);
  void drop_process_if_idle(Container& c);

  reactor::Reactor& r_;
  Options opts_;
  std::unique_ptr<fs::ImageStore> images_;
  std::unique_ptr<NetnsPool> netns_pool_;
  std::map<std::string, std::unique_ptr<Container>> containers_;   // by id
  std::map<std::string, std::string> names_;                       // name -> id
  uint64_t next_token_ = 1;
  std::function<void()> shutdown_done_;
};

// Docker's name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1 to 253 characters.
bool valid_name(std::string_view name);
std::string generate_name(uint64_t seed);

}  // namespace berth::engine
