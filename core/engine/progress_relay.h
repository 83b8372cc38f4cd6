// ProgressRelay: carries a pull's or a push's progress events
// (fs/registry/progress.h) from the threads of its job to the reactor
// thread, where the sink (the API connection's writer) runs.
//
// The job's threads push() events onto a lock-free list and post one drain
// at a time to the reactor (Reactor::post); the drain takes the whole list,
// keeps only the newest of a run of byte counts ("Downloading" 1 MB, 2 MB,
// ... of one layer: the CLI redraws the bar, it needs the last), and calls
// the sink with each event, in order. Neither side waits for the other: a
// slow client makes the batches bigger, never the pull slower. The list
// holds at most the events of one pull (one per 512 KiB of a layer and a
// few per layer), so it needs no bound of its own.
//
// The job's `done` calls drain() before it reports, so the sink sees every
// event before the outcome. close() (reactor) stops further sink calls: the
// client went away.
//
// Thread: push() from any thread (the library calls it from one thread at a
// time); drain() and close() on the reactor thread only. Held by
// shared_ptr: the job, the posted drain and the caller each keep it alive.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "core/reactor/reactor.h"
#include "fs/registry/progress.h"

namespace berth::engine {

class ProgressRelay : public std::enable_shared_from_this<ProgressRelay> {
 public:
  using Sink = std::function<void(const fs::registry::ProgressEvent&)>;

  ProgressRelay(reactor::Reactor& r, Sink sink) : r_(r), sink_(std::move(sink)) {}
  ~ProgressRelay();
  ProgressRelay(const ProgressRelay&) = delete;
  ProgressRelay& operator=(const ProgressRelay&) = delete;

  // Any thread.
  void push(const fs::registry::ProgressEvent& e);
  // Reactor thread.
  void drain();
  void close() { closed_ = true; }

  // The coalescing rule on its own (pure; exposed for its unit test): a
  // byte-count event replaces the previous one of the same layer and status
  // when nothing else about that layer came between them.
  static std::vector<fs::registry::ProgressEvent> coalesce(std::vector<fs::registry::ProgressEvent> events);

 private:
  struct Node {
    fs::registry::ProgressEvent event;
    Node* next = nullptr;
  };
  reactor::Reactor& r_;
  Sink sink_;
  bool closed_ = false;  // reactor thread
  std::atomic<Node*> head_{nullptr};
  std::atomic<bool> posted_{false};
};

}  // namespace berth::engine
