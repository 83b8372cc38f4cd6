// Small pieces every container handler uses. Thread: reactor thread only.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/engine/api.h"
#include "ipc/server/connection.h"
#include "ipc/server/create_request.h"
#include "ipc/server/server.h"

namespace berth::ipc {

// Answers through the connection if it is still open when an engine call
// completes: `ok_status` with no body, or the error.
inline engine::Done reply(Server& s, Connection& c, int ok_status) {
  uint64_t serial = c.serial();
  return [&s, serial, ok_status](Result<void> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (r) conn->respond_empty(ok_status);
    else conn->respond_error(r.error());
  };
}

// The container `ref` names, or nullptr after answering 404 (or 400 for an
// ambiguous prefix).
inline engine::Container* find_or_respond(Server& s, Connection& c, const std::string& ref) {
  auto r = s.engine().find(ref);
  if (!r) {
    c.respond_error(r.error());
    return nullptr;
  }
  return *r;
}

// The client-to-container half of a hijacked stream (attach, exec start with
// stdin): chunks go through the detach-key matcher to `write`, which calls
// its `done` once the chunk is taken (back-pressure); the client's half-close
// calls `eof`. When the client types the detach keys, the connection closes:
// the client is gone, the container runs on. `keys` is parse_detach_keys()'s
// result.
Connection::HijackInput stdin_input(Server& s, uint64_t serial, std::string keys,
                                    std::function<void(std::string_view, std::function<void()>)> write,
                                    std::function<void()> eof);

// A WebSocket client's input (attach/ws): its data frames decoded and
// handed to `inner` (stdin), pings answered with pongs, a close frame (or
// a protocol error) ends the connection.
Connection::HijackInput ws_input(Server& s, uint64_t serial, Connection::HijackInput inner);

// attach?logs=1 (handlers_logs.cc): the container's log from its start as
// raw bytes on the hijacked connection `c`; with `follow`, then everything it
// writes until its output ends (the log's follower, so nothing between the
// replay and the live output is lost or repeated). Closes `c` at the end.
void attach_logs(Server& s, Connection& c, engine::Container& ct, bool want_stdout, bool want_stderr,
                 bool follow);

// The h (rows) and w (columns) of a resize request, 0 to 65535.
Result<ConsoleSize> resize_query(const Request& req);

}  // namespace berth::ipc
