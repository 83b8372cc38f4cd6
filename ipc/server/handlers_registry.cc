// The registry routes: pull (POST /images/create?fromImage=, reached from
// handlers_images.cc), push (POST /images/{name}/push) and login (POST
// /auth). Credentials come from X-Registry-Auth (base64url JSON, as the
// docker CLI sends it) or, for /auth and old clients' push, the body.
//
// A pull or push answers like dockerd: an error before any progress is a
// plain HTTP error (404 for an unknown repository or tag; refused
// credentials are 401 for /auth and 403 for a pull or push, see
// respond_registry_error); once progress flows, the answer is 200 and a
// JSON progress stream (progress_json.h), and a later error is its last
// line. dockerd writes "Pulling from ..." only after it has the manifest;
// the library reports it before, so it is held back until the next event.
// The client going away (ctrl-c of the docker CLI) closes the connection,
// which sets the job's cancel flag: its transfers stop and the pull leaves
// nothing.
#include <memory>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/api.h"
#include "ipc/proto/request.h"
#include "ipc/server/api_fields.h"
#include "ipc/server/connection.h"
#include "ipc/server/handler_util.h"
#include "ipc/server/json_util.h"
#include "ipc/server/progress_json.h"
#include "ipc/server/router.h"
#include "ipc/server/server.h"

namespace berth::ipc {

// Reached from handlers_images.cc's POST /images/create.
void pull_image(Server& s, Connection& c);

namespace {

constexpr std::string_view kAuthHeader = "X-Registry-Auth";

// Credentials the registry refused: 401 for a login (docker login prints
// the message); 403 for a pull or push. A 401 there makes the docker CLI
// ask for a login ("Login prior to pull:") and, without a terminal, wait
// for one forever; dockerd itself answers 500 for a basic-auth registry
// without credentials ("no basic auth credentials").
void respond_registry_error(Connection& c, const Error& e, bool login = false) {
  if (engine::is_unauthorized(e))
    return c.respond(login ? 401 : 403, fmt::format("{{\"message\":{}}}\n", json_quote(e.message())));
  c.respond_error(e);
}

// The router has checked every query parameter against the API field
// table (api_fields.h); of /images/create's, these are an import's only.
Result<void> no_import_keys(const Request& req) {
  for (std::string_view k : {"repo", "message", "changes"})
    if (!req.query_value(k).value_or("").empty())
      return Error::invalid("pull: the query parameter {} is for imports (fromSrc=-), not pulls", k);
  return ok();
}

// X-Registry-Auth, or else `body` as an AuthConfig (what clients before the
// header sent with push); empty: anonymous.
Result<engine::RegistryCredentials> credentials(const Request& req, const std::string& body) {
  std::string_view header = req.header(kAuthHeader);
  if (!header.empty()) {
    auto creds = engine::decode_registry_auth(header);
    if (!creds) return Error::invalid("invalid X-Registry-Auth header: {}", creds.error().message());
    return std::move(*creds);
  }
  if (body.empty()) return engine::RegistryCredentials{};
  return engine::parse_auth_config_json(body);
}

// "localhost:5000/x" with no tag or digest of its own.
bool names_repository_only(std::string_view ref) {
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  return last.find(':') == std::string_view::npos && ref.find('@') == std::string_view::npos;
}

// What to pull: fromImage, with `tag` (a tag or a digest) in place of its
// own, as dockerd reads them. No tag at all means every tag of the
// repository (docker pull --all-tags), which berth does not do.
Result<std::string> pull_reference(const std::string& from, const std::string& tag) {
  engine::Reference ref = BERTH_TRY(engine::parse_reference(from));
  if (!tag.empty()) {
    std::string full = ref.familiar_name() + (tag.starts_with("sha256:") ? "@" : ":") + tag;
    BERTH_TRY_VOID(engine::parse_reference(full));
    return full;
  }
  if (names_repository_only(from))
    return Error::invalid("pulling every tag of {} (docker pull --all-tags) is not supported: name a tag or digest",
                          ref.familiar_name());
  return from;
}

// The progress stream of one pull or push, on the reactor thread.
class ProgressWriter {
 public:
  ProgressWriter(Server& s, uint64_t serial) : s_(s), serial_(serial) {}

  void event(const engine::RegistryProgress& e) {
    Connection* conn = s_.lookup(serial_);
    if (!conn) return;
    if (!started_ && e.status.starts_with("Pulling from ")) {
      held_ += progress_json(e);
      return;
    }
    start(*conn);
    conn->send_chunk(progress_json(e));
  }
  // The outcome: a plain answer when nothing was streamed yet.
  void finish(const Result<void>& r) {
    Connection* conn = s_.lookup(serial_);
    if (!conn) return;
    if (!r && !started_) return respond_registry_error(*conn, r.error());
    start(*conn);
    if (!r) {
      log::info("api", "{} {}: {}", conn->request().method, conn->request().path, r.error().message());
      conn->send_chunk(progress_error_json(r.error().message()));
    }
    conn->end_stream();
  }

 private:
  void start(Connection& conn) {
    if (started_) return;
    started_ = true;
    conn.start_stream(200, "application/json");
    if (!held_.empty()) conn.send_chunk(held_);
    held_.clear();
  }
  Server& s_;
  uint64_t serial_;
  bool started_ = false;
  std::string held_;
};

void push(Server& s, Connection& c, const Params& p) {
  const Request& req = c.request();
  auto creds = credentials(req, c.body());
  if (!creds) return c.respond_error(creds.error());
  std::string tag = req.query_value("tag").value_or("");
  auto name = engine::parse_reference(p[0]);
  if (!name) return c.respond_error(name.error());
  if (!names_repository_only(p[0]) && !tag.empty())
    return c.respond_error(Error::invalid("push: the name {} has a tag or digest and tag={} is given too", p[0], tag));
  std::string reference = tag.empty() ? p[0] : name->familiar_name() + ":" + tag;
  auto writer = std::make_shared<ProgressWriter>(s, c.serial());
  c.close_on_hangup();  // first: a push refused at once has answered before the call returns
  engine::CancelFlag cancel = s.engine().images().push(
      {reference, std::move(*creds)}, [writer](const engine::RegistryProgress& e) { writer->event(e); },
      [writer](Result<std::vector<engine::PushResult>> r) {
        writer->finish(r ? Result<void>(ok()) : Result<void>(std::move(r.error())));
      });
  c.on_close([cancel] { cancel->store(true); });
}

void auth(Server& s, Connection& c, const Params&) {
  auto body = parse_body(c.body());
  if (!body) return c.respond_error(body.error());
  if (auto f = check_fields("AuthConfig", *body, nullptr); !f) return c.respond_error(f.error());
  auto creds = engine::parse_auth_config_json(c.body());
  if (!creds) return c.respond_error(creds.error());
  uint64_t serial = c.serial();
  s.engine().images().login(std::move(*creds), [&s, serial](Result<engine::LoginResult> r) {
    Connection* conn = s.lookup(serial);
    if (!conn) return;
    if (!r) return respond_registry_error(*conn, r.error(), true);
    conn->respond(200, fmt::format("{{\"IdentityToken\":{},\"Status\":{}}}\n", json_quote(r->identity_token),
                                   json_quote(r->status)));
  });
}

}  // namespace

void pull_image(Server& s, Connection& c) {
  const Request& req = c.request();
  if (auto k = no_import_keys(req); !k) return c.respond_error(k.error());
  auto creds = credentials(req, "");
  if (!creds) return c.respond_error(creds.error());
  auto reference = pull_reference(req.query_value("fromImage").value_or(""), req.query_value("tag").value_or(""));
  if (!reference) return c.respond_error(reference.error());
  auto writer = std::make_shared<ProgressWriter>(s, c.serial());
  c.close_on_hangup();
  engine::CancelFlag cancel = s.engine().images().pull(
      {*reference, req.query_value("platform").value_or(""), std::move(*creds)},
      [writer](const engine::RegistryProgress& e) { writer->event(e); },
      [writer](Result<engine::PullResult> r) {
        writer->finish(r ? Result<void>(ok()) : Result<void>(std::move(r.error())));
      });
  c.on_close([cancel] { cancel->store(true); });
}

void add_registry_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/images/{*}/push", push});
  r.push_back({"POST", "/auth", auth});
}

}  // namespace berth::ipc
