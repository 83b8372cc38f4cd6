#include "ipc/server/handler_util.h"

#include "ipc/server/websocket.h"

#include <memory>
#include <utility>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "ipc/server/create_request.h"
#include "ipc/proto/detach_keys.h"

namespace berth::ipc {

Connection::HijackInput stdin_input(Server& s, uint64_t serial, std::string keys,
                                    std::function<void(std::string_view, std::function<void()>)> write,
                                    std::function<void()> eof) {
  auto matcher = std::make_shared<DetachMatcher>(std::move(keys));
  auto detached = std::make_shared<bool>(false);
  Connection::HijackInput in;
  in.data = [&s, serial, matcher, detached, write](std::string_view data, std::function<void()> resume) {
    if (*detached) return;  // nothing more is read: the connection is closing
    std::string forward;
    *detached = matcher->feed(data, &forward);
    if (*detached) {
      if (!forward.empty()) write(forward, [] {});
      log::debug("api", "client detached with its detach keys");
      if (Connection* c = s.lookup(serial)) c->close();
      return;
    }
    if (forward.empty()) return resume();  // all held back as a possible detach sequence
    write(forward, std::move(resume));
  };
  in.eof = std::move(eof);
  return in;
}

Connection::HijackInput ws_input(Server& s, uint64_t serial, Connection::HijackInput inner) {
  auto decoder = std::make_shared<WsDecoder>();
  auto in = std::make_shared<Connection::HijackInput>(std::move(inner));
  Connection::HijackInput out;
  out.data = [&s, serial, decoder, in](std::string_view data, std::function<void()> resume) {
    std::string payload;
    bool closing = false;
    auto r = decoder->feed(
        data, [&](std::string_view p) { payload.append(p); },
        [&](uint8_t op, std::string_view p) {
          Connection* c = s.lookup(serial);
          if (op == kWsPing && c) {
            std::string pong;
            append_ws_frame(pong, kWsPong, p);
            c->send_raw(pong);
          } else if (op == kWsClose) {
            closing = true;
          }
        });
    if (!r || closing) {
      if (!r) log::debug("api", "attach/ws: {}", r.error().message());
      if (Connection* c = s.lookup(serial)) c->close();
      return;
    }
    if (payload.empty() || !in->data) return resume();
    in->data(payload, std::move(resume));
  };
  out.eof = [in] {
    if (in->eof) in->eof();
  };
  return out;
}

Result<ConsoleSize> resize_query(const Request& req) {
  auto dim = [&](const char* key) -> Result<unsigned short> {
    auto v = req.query_value(key);
    auto n = v ? parse_int(*v) : std::nullopt;
    if (!n || *n < 0 || *n > 0xffff) return Error::invalid("invalid resize parameter {}: \"{}\"", key, v.value_or(""));
    return static_cast<unsigned short>(*n);
  };
  ConsoleSize size;
  size.rows = BERTH_TRY(dim("h"));
  size.cols = BERTH_TRY(dim("w"));
  return size;
}

}  // namespace berth::ipc
