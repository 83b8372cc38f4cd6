// Small pieces every container handler uses. Thread: reactor thread only.
#pragma once

#include <string>

#include "core/engine/engine.h"
#include "ipc/server/connection.h"
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

}  // namespace berth::ipc
