// berthctl: a docker-compatible command line for berthd that speaks only the
// Docker Engine API (through ipc/client), so every command here exercises
// the same requests the docker CLI sends (shared/reference/docker-cli-map.md).
//
// Structure: main.cc parses global flags with CLI11 and dispatches; each
// cmd_*.cc registers one group of subcommands; util.cc holds the shared
// plumbing below; units.cc, resources.cc and stats.cc hold the pure parts
// of the resource flags and `stats`; pump.cc (the hijacked-stream loop) and
// terminal.cc (raw mode, window size, SIGWINCH) those of run -it, exec -it
// and attach. Single-threaded and blocking, except `stats`, which reads one
// daemon stream per container on its own thread as the docker CLI does (see
// cmd_stats.cc). Output goes straight to fds 1 and 2 with write(2) (stream
// output unbuffered, as docker does).
//
// Exit codes: 0 ok, 1 daemon or usage-of-API error, 125 run/create failures
// (and bad flags, --detach-keys included), 126/127 when `run` cannot exec the
// command, and the container's (or exec's) own status for `run`, `attach`
// and `exec`. Detaching with the detach keys exits 0 from `run`, and 1 with
// "read escape sequence" from `exec` and `attach`, as the docker CLI does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "ipc/client/client.h"
#include "ipc/proto/frames.h"
#include "tools/berthctl/pump.h"
#include "tools/berthctl/terminal.h"
#include "tools/berthctl/units.h"

namespace berth::ctl {

using ipc::Client;
using ipc::Response;
using json = nlohmann::json;

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitRunFailure = 125;
inline constexpr std::string_view kVersion = "0.1.0";
// What `exec` and `attach` print (then exit 1) when the detach keys end them:
// moby/term's EscapeError, which the docker CLI returns from both. `run`
// returns 0 silently instead (docker's runContainer swallows the error).
inline constexpr std::string_view kDetachedMessage = "read escape sequence";

struct Globals {
  std::string host;      // -H/--host, $BERTH_HOST, or ipc::kDefaultHost
  char** argv = nullptr; // main's, for cp's hand-over to berthctl-cp (cmd_cp.cc)
};

// Subcommand groups; each callback stores its exit status in `exit_code`.
void add_run_commands(CLI::App& app, Globals& g, int& exit_code);        // run, create
void add_container_commands(CLI::App& app, Globals& g, int& exit_code);  // start ps logs stop kill rm wait
void add_inspect_command(CLI::App& app, Globals& g, int& exit_code);     // inspect (containers, then images)
void add_image_commands(CLI::App& app, Globals& g, int& exit_code);      // import, images
void add_system_commands(CLI::App& app, Globals& g, int& exit_code);     // version, info
void add_stats_command(CLI::App& app, Globals& g, int& exit_code);       // stats
void add_update_command(CLI::App& app, Globals& g, int& exit_code);      // update
void add_exec_command(CLI::App& app, Globals& g, int& exit_code);        // exec
void add_top_command(CLI::App& app, Globals& g, int& exit_code);         // top
void add_attach_command(CLI::App& app, Globals& g, int& exit_code);      // attach
void add_changes_commands(CLI::App& app, Globals& g, int& exit_code);    // diff, commit, export
void add_volume_commands(CLI::App& app, Globals& g, int& exit_code);     // volume create ls inspect rm prune
void add_cp_command(CLI::App& app, Globals& g, int& exit_code);          // cp
void add_network_commands(CLI::App& app, Globals& g, int& exit_code);    // network create ls inspect rm connect disconnect prune; port
void add_registry_commands(CLI::App& app, Globals& g, int& exit_code);   // pull push login logout

// cmd_registry.cc: pulls `ref` (NAME[:TAG|@DIGEST]; no tag: latest) with
// the saved credentials of its registry, drawing the progress on
// `progress_fd` (`quiet`: nothing). `run` and `create` use it for a
// missing image, on stderr.
Result<void> pull_image(Client& c, const std::string& ref, const std::string& platform, int progress_fd, bool quiet);

// --- output ---
void out(std::string_view s);  // stdout, unbuffered
void err(std::string_view s);  // stderr, unbuffered
// Prints `e` on stderr and returns `code`.
int fail(const Error& e, int code = kExitError);

// --- daemon access ---
// Connects and negotiates the API version (HEAD /_ping).
Result<Client> dial(const Globals& g);
// Another connection to the same daemon with the same API version.
Result<Client> dial_like(const Client& c);
// One exchange; a status ≥ 400 becomes ipc::daemon_error (304 is success).
Result<Response> call(Client& c, std::string_view method, std::string_view path, std::string_view body = {});
// call() and parse the body as JSON.
Result<json> call_json(Client& c, std::string_view method, std::string_view path, std::string_view body = {});
// "/containers/<escaped id><rest>".
std::string container_path(std::string_view id, std::string_view rest);
// --restart as the docker CLI reads it: "" and "no" → {"Name":"no"};
// "on-failure:3" → {"Name":"on-failure","MaximumRetryCount":3}. The daemon
// checks the rest (a count with another policy, unknown names).
Result<json> restart_policy_json(const std::string& flag);
// Runs `one` for each ID on one connection, printing the ID on success; the
// errors follow at the end, as the docker CLI joins them. Exit 0 or 1.
int for_each_id(const Globals& g, const std::vector<std::string>& ids,
                const std::function<Result<void>(Client&, const std::string&)>& one);
// Reads a started stream's body to the end.
Result<std::string> read_stream_body(Client& c);
// Reads a daemon error out of a started stream whose status is ≥ 400.
Error stream_error(Client& c, const Response& head);

// --- streams ---
// Writes container output: raw bytes (tty) or demultiplexed frames to 1/2.
class StreamPrinter {
 public:
  explicit StreamPrinter(bool tty) : tty_(tty) {}
  Result<void> feed(std::string_view data);

 private:
  bool tty_;
  ipc::FrameReader frames_;
};
// How a hijacked stream (attach, exec start) is run; docker's hijackedIOStreamer.
struct StreamOptions {
  bool tty = false;            // the daemon sends raw pty bytes, not frames
  bool forward_stdin = false;  // fd 0 goes to the process; its EOF half-closes the stream (-i)
  // With tty and forward_stdin: stdin's terminal is raw for the duration,
  // and these bytes (ipc::parse_detach_keys, never empty) end the stream
  // without being sent.
  std::string detach_keys;
  // With tty, when our window size is known: called with it at once and
  // again on each SIGWINCH (POST …/resize). Failures are the callee's to
  // ignore, as the docker CLI does.
  std::function<void(ConsoleSize)> resize;
};
// Prints the stream (after `leftover`) until the daemon closes it or the
// detach keys are typed. The terminal is restored before this returns; on
// kDetached the caller closes the stream.
Result<PumpEnd> stream_hijacked(Client::Hijacked& stream, const StreamOptions& o);
// Reads {"StatusCode":N,"Error":{"Message":…}|null} from a started wait
// stream: N, or the daemon's error message.
Result<int> read_wait_status(Client& wait_conn);

// --- JSON without exceptions ---
json parse_json(std::string_view text);  // discarded() on a syntax error
std::string jstr(const json& j, std::string_view key);
int64_t jint(const json& j, std::string_view key, int64_t dflt = 0);
bool jbool(const json& j, std::string_view key);
const json& jget(const json& j, std::string_view key);  // a null json when absent
std::string dump(const json& j, int indent = -1);

// --- formatting like the docker CLI ---
std::string short_id(std::string_view id);          // strips "sha256:", 12 chars
std::string ago(int64_t unix_seconds);               // "5 seconds ago"
// human_size ("4.26MB") and bytes_size ("23.45GiB") are in units.h.
std::string go_quote(std::string_view s);            // Go's strconv.Quote
std::string ellipsis(std::string_view s, size_t max_chars);  // "…" when cut
// Aligned columns like Go's tabwriter(minwidth 10, padding 3); the last
// column is not padded.
std::string format_table(const std::vector<std::vector<std::string>>& rows);
void print_table(const std::vector<std::vector<std::string>>& rows);
// A Go duration ("300ms", "1m30s") in nanoseconds; nullopt if malformed.
std::optional<int64_t> go_duration_ns(std::string_view s);
// Docker's --since/--until: unix seconds[.nanos], a Go duration ("10m",
// "1h30m": that long ago) or RFC 3339 → "seconds.nanoseconds".
Result<std::string> to_unix_timestamp(std::string_view value, std::string_view flag);

}  // namespace berth::ctl
